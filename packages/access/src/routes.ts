import type { Permission } from "./permissions.ts";

/**
 * What each internal route needs. `permission`: a person's (or app's) grant, checked by the
 * gateway before it forwards and by the service itself from the signed assertion; `service`:
 * the platform's token alone (operators' tools, service to service), no person; `authenticated`:
 * any verified caller, no particular permission (e.g. 查验 by check code).
 *
 * The services' paths are the keys (fastify's route pattern). A route not in this table is refused
 * by every service (fail closed), and the route-coverage test fails.
 */
export type RouteRule = { permission: Permission } | { service: true } | { authenticated: true };

export const INTERNAL_ROUTES: Readonly<Record<string, RouteRule>> = {
  // stock
  "POST /v1/stock/bill-kinds": { permission: "base.manage" },
  "GET /v1/stock/bill-kinds": { permission: "base.read" },
  "POST /v1/stock/segments": { permission: "stock.confirm" },
  "GET /v1/stock/segments": { permission: "stock.read" },
  "GET /v1/stock/segments/:id": { permission: "stock.read" },
  "POST /v1/stock/segments/:id/confirm": { permission: "stock.confirm" },
  "PUT /v1/stock/distribution-rules/:agencyCode/:billCode/:issuingPointCode": {
    permission: "stock.distribute",
  },
  "GET /v1/stock/distribution-rules": { permission: "stock.read" },
  "POST /v1/stock/distributions": { permission: "stock.distribute" },
  "GET /v1/stock/distributions": { permission: "stock.read" },
  "GET /v1/stock/ledger": { permission: "stock.read" },
  "POST /v1/stock/returns": { permission: "stock.return" },
  "POST /v1/stock/voids": { permission: "stock.return" },
  "POST /v1/stock/write-offs": { permission: "stock.writeOff" },
  "GET /v1/stock/removals": { permission: "stock.read" },
  "GET /v1/stock/write-offs": { permission: "stock.read" },
  // issuance
  "POST /v1/issuance/items": { permission: "base.manage" },
  "GET /v1/issuance/items": { permission: "base.read" },
  "POST /v1/issuance/issuing-points": { permission: "base.manage" },
  "GET /v1/issuance/issuing-points": { permission: "base.read" },
  "GET /v1/issuance/number-runs": { permission: "stock.read" },
  // 项目分组: read by whoever reads base data (the window picks a group), kept by the ticket manager
  "GET /v1/issuance/item-groups": { permission: "base.read" },
  "POST /v1/issuance/item-groups": { permission: "base.itemGroups" },
  "PUT /v1/issuance/item-groups/:id": { permission: "base.itemGroups" },
  "DELETE /v1/issuance/item-groups/:id": { permission: "base.itemGroups" },
  // 常用交款人: the window's own (agency, and the clerk's issuing points)
  "GET /v1/issuance/frequent-payers": { permission: "receipt.issue" },
  "GET /v1/issuance/frequent-payers/:id": { permission: "receipt.issue" },
  "POST /v1/issuance/frequent-payers": { permission: "receipt.issue" },
  "PUT /v1/issuance/frequent-payers/:id": { permission: "receipt.issue" },
  "DELETE /v1/issuance/frequent-payers/:id": { permission: "receipt.issue" },
  "POST /v1/receipts": { permission: "receipt.issue" },
  "GET /v1/receipts/verify": { authenticated: true },
  "GET /v1/receipts": { permission: "receipt.read" },
  "GET /v1/receipts/:id": { permission: "receipt.read" },
  "GET /v1/receipts/:id/document": { permission: "receipt.read" },
  "GET /v1/receipts/:id/status": { permission: "receipt.read" },
  "POST /v1/receipts/:id/red-flush": { permission: "receipt.redFlush" },
  "POST /v1/receipts/:id/paper-exchange": { permission: "receipt.paperExchange" },
  "POST /v1/receipts/:id/paper-return": { permission: "receipt.paperExchange" },
  "POST /v1/receipts/:id/book": { permission: "receipt.book" },
  "POST /v1/receipts/:id/void": { permission: "receipt.void" },
  // delivery
  "GET /v1/delivery/receipts/:receiptId/deliveries": { permission: "delivery.read" },
  "GET /v1/delivery/deliveries": { permission: "delivery.read" },
  "POST /v1/delivery/receipts/:receiptId/deliveries/:channel/repush": { permission: "delivery.repush" },
  "GET /v1/delivery/agencies/:agencyCode/channels": { permission: "delivery.read" },
  "PUT /v1/delivery/agencies/:agencyCode/channels": { permission: "delivery.channels" },
  "GET /v1/delivery/receipts/:receiptId/print": { permission: "receipt.read" },
  // 签名验证: both signatures of the served document checked server-side, with their chains
  "GET /v1/delivery/receipts/:receiptId/verification": { permission: "receipt.read" },
  // finance-exchange
  "POST /v1/finance-exchange/base-data/sync": { permission: "base.manage" },
  "GET /v1/finance-exchange/base-data": { permission: "base.read" },
  "POST /v1/finance-exchange/stock-applications": { permission: "stock.apply" },
  "GET /v1/finance-exchange/stock-applications": { permission: "stock.read" },
  "GET /v1/finance-exchange/stock-applications/:id": { permission: "stock.read" },
  "POST /v1/finance-exchange/reconciliations": { permission: "finance.reconcile" },
  "GET /v1/finance-exchange/reconciliations": { permission: "finance.read" },
  "POST /v1/finance-exchange/audit-reports": { permission: "finance.audit" },
  "GET /v1/finance-exchange/audit-reports/:id": { permission: "finance.read" },
  "GET /v1/finance-exchange/supervision/:receiptId": { permission: "finance.read" },
  "GET /v1/finance-exchange/archive/:contentSm3/verification": { permission: "finance.read" },
  "GET /v1/finance-exchange/status": { permission: "finance.read" },
  // 财政交互: the agency's upload queue (监制) and the archive, paged
  "GET /v1/finance-exchange/queue": { permission: "finance.read" },
  "GET /v1/finance-exchange/archive": { permission: "finance.read" },
  "GET /v1/finance-exchange/ferry/rejections": { permission: "finance.read" },
  // reporting
  "GET /v1/reporting/reports": { permission: "report.read" },
  "GET /v1/reporting/reports/:report": { permission: "report.read" },
  // 票据查询 (the console's receipt search): a clerk searches their points' receipts.
  "GET /v1/reporting/receipts": { permission: "receipt.read" },
  "GET /v1/reporting/lag": { permission: "report.read" },
  "POST /v1/reporting/rebuild": { permission: "report.rebuild" },
  // payment
  "POST /v1/payments": { permission: "payment.collect" },
  "GET /v1/payments": { permission: "payment.read" },
  "GET /v1/payments/by-code/:paymentCode": { permission: "payment.read" },
  "GET /v1/payments/:id": { permission: "payment.read" },
  "GET /v1/payments/:id/qr-url": { permission: "payment.read" },
  "GET /v1/payments/:id/orders": { permission: "payment.read" },
  "POST /v1/payments/:id/orders": { permission: "payment.collect" },
  "POST /v1/payments/:id/close": { permission: "payment.collect" },
  "POST /v1/payments/:id/refunds": { permission: "payment.collect" },
  "GET /v1/payments/:id/refunds": { permission: "payment.read" },
  "POST /v1/payment/reconciliations": { permission: "payment.channels" },
  "GET /v1/payment/reconciliations/:channel/:businessDay/differences": { permission: "payment.read" },
  // the finance office's lists (console): payments (payer masked), refunds, day-end reconciliations
  "GET /v1/payment/payments": { permission: "payment.read" },
  "GET /v1/payment/refunds": { permission: "payment.read" },
  "GET /v1/payment/reconciliations": { permission: "payment.read" },
  "GET /v1/payment/reconciliations/:businessDay/differences": { permission: "payment.read" },
  "GET /v1/payment/statements/:businessDay": { permission: "payment.read" },
  "POST /v1/payments/:id/callbacks/re-push": { permission: "payment.callbacks" },
  "PUT /v1/payment/callback-targets/:appId": { permission: "payment.callbacks" },
  "PUT /v1/payment/channel-accounts/:channel": { permission: "payment.channels" },
  "PUT /v1/payment/decision-sources/:appId": { permission: "payment.callbacks" },
  "POST /v1/payment/funds-arrivals": { permission: "payment.channels" },
  "GET /v1/payment/funds-arrivals/:settlementDay": { permission: "payment.read" },
  // 资金清分: accounts and rules are money configuration, kept like the channel accounts
  "PUT /v1/payment/clearing-accounts/:accountNo": { permission: "payment.channels" },
  "GET /v1/payment/clearing-accounts": { permission: "payment.read" },
  "PUT /v1/payment/clearing-rules/:itemCode": { permission: "payment.channels" },
  "GET /v1/payment/clearing-rules": { permission: "payment.read" },
  "POST /v1/payment/clearings": { permission: "payment.channels" },
  "GET /v1/payment/clearings/:businessDay": { permission: "payment.read" },
  // the finance office's decisions (console): the differences work list, a difference handled, a re-send
  "GET /v1/payment/differences": { permission: "payment.read" },
  "POST /v1/payment/differences/:id/handle": { permission: "payment.reconcile" },
  "POST /v1/payment/funds-differences/:id/handle": { permission: "payment.reconcile" },
  "POST /v1/payment/clearing-instructions/:id/resend": { permission: "payment.reconcile" },
  // gateway: business systems' credentials
  "POST /v1/gateway/apps": { permission: "app.manage" },
  "GET /v1/gateway/apps": { permission: "app.read" },
  "POST /v1/gateway/apps/:appId/disable": { permission: "app.manage" },
  // the platform's operators (the CLI on a host holding the token)
  "GET /v1/admin/dead-letters/:group": { service: true },
  "POST /v1/admin/dead-letters/:group/replay": { service: true },
  "POST /v1/admin/users": { service: true },
  "GET /v1/admin/audit/verification": { service: true },
};

/**
 * The gateway's own routes for people (session cookie + CSRF), not forwarded to a service. Open
 * ones (login) carry no rule; `self` is any signed-in person acting on their own account.
 */
export const CONSOLE_ROUTES: Readonly<Record<string, { permission: Permission } | { self: true }>> = {
  "GET /api/console/me": { self: true },
  "POST /api/console/logout": { self: true },
  "POST /api/console/password": { self: true },
  "POST /api/console/totp/enroll": { self: true },
  "POST /api/console/totp/confirm": { self: true },
  "GET /api/console/users": { permission: "user.read" },
  "POST /api/console/users": { permission: "user.manage" },
  "POST /api/console/users/:id/disable": { permission: "user.manage" },
  "POST /api/console/users/:id/enable": { permission: "user.manage" },
  "POST /api/console/users/:id/reset-password": { permission: "user.manage" },
  "POST /api/console/users/:id/revoke-sessions": { permission: "user.manage" },
  "PUT /api/console/users/:id/grants": { permission: "role.manage" },
  "GET /api/console/roles": { permission: "user.read" },
  "PUT /api/console/roles/:name": { permission: "role.manage" },
  "GET /api/console/permissions": { permission: "user.read" },
  "GET /api/console/audit": { permission: "audit.read" },
  "GET /api/console/audit/export": { permission: "audit.read" },
  "GET /api/console/sessions": { permission: "user.read" },
};

/** People reach internal routes through the gateway under this prefix (same path after it). */
export const CONSOLE_PROXY_PREFIX = "/api/internal";

export function internalRouteRule(method: string, routePattern: string): RouteRule | undefined {
  return INTERNAL_ROUTES[`${method.toUpperCase()} ${routePattern}`];
}
