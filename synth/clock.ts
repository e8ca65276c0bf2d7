/**
 * Deploy time the offline render pins, unless INFERMESH_DEPLOY_TIME says
 * otherwise. The render's "now": `Pulumi.test.yaml`'s `infermesh:expiresAt`
 * must lie within the expiry window after it (at most 7 days), and because
 * both are fixed, rendering the template never starts failing as the calendar
 * moves on (a real deploy checks the expiry against the clock).
 */
export const synthDeployTime = "2026-12-01T00:00:00Z";
