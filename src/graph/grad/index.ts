/**
 * All gradient rules by op type. Each family lives in its own file.
 */
import type { GradRule } from './context.js';
import { CONV_RULES } from './conv.js';
import { ELEMENTWISE_RULES } from './elementwise.js';
import { LINEAR_RULES } from './linear.js';
import { NORM_RULES } from './norm.js';
import { POOL_RULES } from './pool.js';
import { REDUCE_RULES } from './reduce.js';
import { SHAPE_RULES } from './shape.js';

/** Op type → vector-Jacobian rule. */
export const GRAD_RULES: Readonly<Record<string, GradRule>> = {
  ...ELEMENTWISE_RULES,
  ...LINEAR_RULES,
  ...SHAPE_RULES,
  ...REDUCE_RULES,
  ...CONV_RULES,
  ...POOL_RULES,
  ...NORM_RULES,
};
