import { z } from 'zod';
import { parsePolicyRule, type PolicyRule } from '../evacuator/policy.js';
import { list } from './fields.js';

/** `[evacuation] policy`: each comma-separated rule parsed once here; an error names the rule and what is wrong. */
export function policyRules() {
  return list().transform((items, ctx): readonly PolicyRule[] | undefined => {
    const rules: PolicyRule[] = [];
    for (const item of items) {
      const r = parsePolicyRule(item);
      if (typeof r === 'string') ctx.addIssue({ code: 'custom', message: r });
      else rules.push(r);
    }
    return rules;
  });
}

/** `[evacuation] tiers`: whole numbers, highest first, no repeats. */
export function priorityTiers() {
  return list().transform((items, ctx): readonly number[] | undefined => {
    const out: number[] = [];
    for (const item of items) {
      if (!/^-?\d{1,9}$/.test(item)) {
        ctx.addIssue({ code: 'custom', message: `"${item}" is not a whole number` });
        return z.NEVER;
      }
      const n = Number(item);
      if (out.length > 0 && n >= out[out.length - 1]!) {
        ctx.addIssue({ code: 'custom', message: `thresholds must be given highest first, each lower than the one before (${out.join(', ')}, then ${n})` });
        return z.NEVER;
      }
      out.push(n);
    }
    return out;
  });
}
