/** Types for asl-validator 4 (ships none): validates Amazon States Language definitions. */
declare module 'asl-validator' {
  interface AslValidationError {
    'Error code': string;
    Message?: string;
    [k: string]: unknown;
  }
  interface AslValidatorOptions {
    checkPaths?: boolean;
    checkArn?: boolean;
  }
  interface AslValidationResult {
    isValid: boolean;
    errors: AslValidationError[];
    errorsText(separator?: string): string;
  }
  /** Note: it mutates the definition (adds `QueryLanguage` to every state); pass a copy. */
  function validator(definition: unknown, opts?: AslValidatorOptions): AslValidationResult;
  export = validator;
}
