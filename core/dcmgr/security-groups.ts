/**
 * @module
 * `/security_groups` (`sg-`): an account's firewall groups, their `rule` text and the parsed `rules` (spec W§2.4).
 * A group an alive instance's vif is in, or another group's rule names, is not deleted.
 */
import type { Resource } from '../store/item.js';
import { InvalidSecurityGroupRuleError, parseRules, type SecurityGroupRule } from '../domain/wakame/security-group-rules.js';
import type { DcmgrContext, DcmgrRoute } from './app.js';
import { DcmgrError } from './errors.js';
import { labelsParam, presentLabels } from './labels.js';
import { instancesUsing, recordsOf } from './lookup.js';
import { serviceTypeParam, stringParams } from './params.js';
import { createRecordRoute, deleteRecordRoute, recordIdentity, recordReadRoutes, recordTimes, updateRecordRoute } from './record-routes.js';

/** A stored group's rules: its text was parsed when written, so it parses again. */
function rulesOf(res: Resource): SecurityGroupRule[] {
  return parseRules(typeof res.fields.rule === 'string' ? res.fields.rule : '');
}

/**
 * A security group as dcmgr shows it: its columns, the rule text and the rules parsed from it, and its labels.
 *
 * @example
 * await presentSecurityGroup(ctx, sg) // { id: 'sg-…', rule: 'tcp:22,22,ip4:0.0.0.0/0', rules: [{ ip_protocol: 'tcp', ... }], ... }
 */
export async function presentSecurityGroup(ctx: DcmgrContext, res: Resource): Promise<Record<string, unknown>> {
  const f = res.fields;
  return {
    ...(await recordIdentity(ctx, res)),
    description: f.description ?? '',
    display_name: f.display_name ?? '',
    rule: f.rule ?? '',
    rules: rulesOf(res),
    service_type: f.service_type ?? 'std',
    ...recordTimes(res),
    labels: presentLabels(res),
  };
}

/** The fields a `POST` or `PUT` sets: the rule (checked: 400/142 with the parser's message), texts, service type, labels. */
function groupFields(params: Record<string, unknown>): Record<string, unknown> {
  const fields: Record<string, unknown> = stringParams(params, ['rule', 'description', 'display_name']);
  if (typeof fields.rule === 'string') {
    try {
      parseRules(fields.rule);
    } catch (e) {
      if (e instanceof InvalidSecurityGroupRuleError) throw new DcmgrError('InvalidSecurityGroupRule', e.message);
      throw e;
    }
  }
  const serviceType = serviceTypeParam(params);
  if (serviceType !== undefined) fields.service_type = serviceType;
  const labels = labelsParam(params);
  if (labels !== undefined) fields.labels = labels;
  return fields;
}

/** Why a group may not be deleted: the alive instances in it and the other groups whose rules name it. */
async function usersOf(ctx: DcmgrContext, group: Resource): Promise<string[]> {
  const referring = (await recordsOf(ctx).list('securityGroup', null)).filter(
    (other) => other.id !== group.id && rulesOf(other).some((r) => r.ip_source === group.id),
  );
  return [...(await instancesUsing(ctx, group)), ...referring.map((g) => g.id)];
}

export const SECURITY_GROUP_ROUTES: DcmgrRoute[] = [
  ...recordReadRoutes('security_groups', 'securityGroup', presentSecurityGroup, ['service_type', 'display_name']),
  createRecordRoute('security_groups', 'securityGroup', groupFields, presentSecurityGroup),
  updateRecordRoute('security_groups', 'securityGroup', groupFields, presentSecurityGroup),
  deleteRecordRoute('security_groups', 'securityGroup', usersOf),
];
