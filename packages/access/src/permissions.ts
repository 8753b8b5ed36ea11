/**
 * Permissions named per function (menu and action), the built-in roles a bureau starts with, and
 * the data scopes a role's grant reaches. One list: the gateway checks it, every service checks it
 * again from the signed assertion, the admin console shows it, the matrix test proves it.
 */
export const PERMISSIONS = {
  "base.read": "基础信息查看: bill kinds, income items, issuing points, base data",
  "base.manage": "基础信息维护: register bill kinds, income items, issuing points; sync base data",
  "base.itemGroups": "项目分组: group the agency's income items for the window (开票 picks a group)",
  "receipt.issue": "在线开具: issue a receipt",
  "receipt.read": "票据查询: read receipts, their documents and status",
  "receipt.redFlush": "冲红",
  "receipt.paperExchange": "换开 and its return",
  "receipt.book": "入账",
  "receipt.void": "作废",
  "stock.read": "票据库存查看: segments, rules, distributions, the 领用存 ledger",
  "stock.apply": "申领: apply to finance for numbers",
  "stock.confirm": "入库: register and confirm segments",
  "stock.distribute": "分发: rules and manual distribution",
  "stock.return": "申退 and 库存作废",
  "stock.writeOff": "核销申请",
  "delivery.read": "交付查看",
  "delivery.repush": "重新推送",
  "delivery.channels": "交付渠道授权",
  "finance.read": "财政交互查看: supervision, archive, reconciliations, audit reports",
  "finance.reconcile": "对账",
  "finance.audit": "审验 submission",
  "payment.read": "缴款查询: payment notices, their orders and results",
  "payment.collect": "缴款: create payment notices, open channel orders, close",
  "payment.callbacks": "缴款结果通知: where a business system's results go, re-pushing them",
  "payment.channels": "支付渠道: the agency's merchant accounts at the channels",
  "payment.reconcile":
    "缴款对账处理: mark reconciliation differences handled, re-send a refused clearing instruction",
  "report.read": "统计报表",
  "report.rebuild": "rebuild the report read models",
  "app.read": "business systems (apps) list",
  "app.manage": "business systems: register, disable",
  "user.read": "用户查看",
  "user.manage": "用户管理: create, disable, reset password, revoke sessions",
  "role.manage": "角色管理 and 功能授权: roles, their permissions, users' roles and data scopes",
  "audit.read": "日志管理: read and export the audit log",
} as const;

export type Permission = keyof typeof PERMISSIONS;
export const permissionNames = Object.keys(PERMISSIONS) as Permission[];

export function isPermission(name: string): name is Permission {
  return Object.hasOwn(PERMISSIONS, name);
}

/**
 * How far a grant reaches within the user's agency: all of it, the issuing points bound to the
 * user (开票点用户), or only the receipts the user made.
 */
export type DataScope = "agency" | "points" | "own";
export const dataScopes: readonly DataScope[] = ["agency", "points", "own"];

export interface RoleDefinition {
  name: string;
  /** Shown in the console. */
  title: string;
  permissions: readonly Permission[];
  dataScope: DataScope;
  /** Administrator roles require a second factor (TOTP) at every login. */
  administrator: boolean;
}

/**
 * Built-in roles (三员分立): the system administrator runs the system and its accounts but can
 * neither read nor change the audit log; the security administrator decides who may do what; the
 * auditor reads the audit log and nothing else. The business roles follow the bureau's jobs.
 */
export const BUILT_IN_ROLES = {
  "system-admin": {
    name: "system-admin",
    title: "系统管理员",
    permissions: [
      "base.read",
      "base.manage",
      "base.itemGroups",
      "app.read",
      "app.manage",
      "delivery.read",
      "delivery.channels",
      "payment.callbacks",
      "payment.channels",
      "report.rebuild",
      "user.read",
      "user.manage",
    ],
    dataScope: "agency",
    administrator: true,
  },
  "security-admin": {
    name: "security-admin",
    title: "安全管理员",
    permissions: ["user.read", "role.manage"],
    dataScope: "agency",
    administrator: true,
  },
  auditor: {
    name: "auditor",
    title: "安全审计员",
    permissions: ["audit.read"],
    dataScope: "agency",
    administrator: true,
  },
  "ticket-manager": {
    name: "ticket-manager",
    title: "票据管理员",
    permissions: [
      "base.read",
      "base.itemGroups",
      "stock.read",
      "stock.apply",
      "stock.confirm",
      "stock.distribute",
      "stock.return",
      "stock.writeOff",
      "receipt.read",
      "finance.read",
      "report.read",
    ],
    dataScope: "agency",
    administrator: false,
  },
  clerk: {
    name: "clerk",
    title: "开票员",
    permissions: [
      "base.read",
      "receipt.issue",
      "receipt.read",
      "receipt.redFlush",
      "receipt.paperExchange",
      "receipt.void",
      "delivery.read",
      "delivery.repush",
      "payment.read",
      "payment.collect",
    ],
    dataScope: "points",
    administrator: false,
  },
  "finance-liaison": {
    name: "finance-liaison",
    title: "财务联络员",
    permissions: [
      "base.read",
      "receipt.read",
      "receipt.book",
      "finance.read",
      "finance.reconcile",
      "finance.audit",
      "report.read",
      "stock.read",
      "payment.read",
      "payment.reconcile",
    ],
    dataScope: "agency",
    administrator: false,
  },
} as const satisfies Record<string, RoleDefinition>;

export type BuiltInRole = keyof typeof BUILT_IN_ROLES;
export const builtInRoleNames = Object.keys(BUILT_IN_ROLES) as BuiltInRole[];
