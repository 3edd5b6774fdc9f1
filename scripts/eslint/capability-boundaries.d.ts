import type { Rule } from 'eslint';

export const CAPABILITIES: readonly string[];
export const capabilityBoundaries: Rule.RuleModule;
