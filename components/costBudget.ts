/**
 * The stack's cost and cardinality at its pools' maximum sizes, and the
 * budget it must stay within, as a component whose inputs and outputs carry
 * the figures: the policy pack (`budget-within-limits`) reads them from the
 * preview as it reads any resource, so a pull request that raises a pool's
 * maximum past the budget is refused with the figures. It creates nothing.
 */
import * as pulumi from "@pulumi/pulumi";
import { costBudgetType } from "../domain/naming";

/** What the policy reads (policy/policies.ts `BudgetFigures` mirrors it; the pack imports nothing of the program); cost/estimate.ts `costBudgetFigures` fills it. */
export interface CostBudgetFigures {
  environment: string;
  /** Compute and metrics a month at max size, USD. */
  monthlyUsdAtMax: number;
  activeSeriesAtMax: number;
  /** When the prices were taken (cost/prices.ts). */
  pricesTakenOn: string;
  maxMonthlyCostUsd?: number;
  maxActiveSeries?: number;
}

export class CostBudget extends pulumi.ComponentResource {
  static readonly type = costBudgetType;

  constructor(name: string, figures: CostBudgetFigures, opts?: pulumi.ComponentResourceOptions) {
    super(CostBudget.type, name, { ...figures }, opts);
    this.registerOutputs({ ...figures });
  }
}
