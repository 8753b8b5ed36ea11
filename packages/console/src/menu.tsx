import {
  AccountBookOutlined,
  AuditOutlined,
  BarChartOutlined,
  DashboardOutlined,
  DatabaseOutlined,
  FileTextOutlined,
  ReconciliationOutlined,
  SendOutlined,
  SettingOutlined,
} from "@ant-design/icons";
import type { Permission } from "@piaoju/access";
import type { ReactNode } from "react";

export interface Page {
  path: string;
  zh: string;
  en: string;
  /** The page is shown to whoever holds one of these. */
  anyOf: Permission[];
  hidden?: boolean;
}

export interface Section {
  key: string;
  zh: string;
  en: string;
  icon: ReactNode;
  pages: Page[];
}

/**
 * The console's menus, each page behind the permissions that its data needs (the gateway and
 * the services check them again on every call: a hidden menu is a courtesy, not the control).
 */
export const SECTIONS: Section[] = [
  {
    key: "dashboard",
    zh: "工作台",
    en: "Dashboard",
    icon: <DashboardOutlined />,
    pages: [{ path: "/dashboard", zh: "工作台", en: "Dashboard", anyOf: ["receipt.read", "stock.read"] }],
  },
  {
    key: "receipts",
    zh: "票据开具",
    en: "Receipts",
    icon: <FileTextOutlined />,
    pages: [
      { path: "/receipts/issue", zh: "在线开具", en: "Issue", anyOf: ["receipt.issue"] },
      { path: "/receipts/search", zh: "票据查询", en: "Search", anyOf: ["receipt.read"] },
      {
        path: "/receipts/frequent-payers",
        zh: "常用交款人",
        en: "Frequent payers",
        anyOf: ["receipt.issue"],
      },
      { path: "/receipts/:id", zh: "票据详情", en: "Receipt", anyOf: ["receipt.read"], hidden: true },
    ],
  },
  {
    key: "stock",
    zh: "票据库存",
    en: "Stock",
    icon: <DatabaseOutlined />,
    pages: [
      { path: "/stock/applications", zh: "票据申领", en: "Apply", anyOf: ["stock.apply"] },
      { path: "/stock/segments", zh: "入库确认", en: "Receive", anyOf: ["stock.confirm"] },
      { path: "/stock/ledger", zh: "领用存台账", en: "Ledger", anyOf: ["stock.read"] },
      { path: "/stock/distributions", zh: "票据分发", en: "Distribute", anyOf: ["stock.read"] },
      { path: "/stock/removals", zh: "申退与作废", en: "Return / void", anyOf: ["stock.read"] },
      { path: "/stock/write-offs", zh: "核销申请", en: "Write-off", anyOf: ["stock.read"] },
    ],
  },
  {
    key: "delivery",
    zh: "交付管理",
    en: "Delivery",
    icon: <SendOutlined />,
    pages: [{ path: "/delivery", zh: "交付管理", en: "Deliveries", anyOf: ["delivery.read"] }],
  },
  {
    key: "finance",
    zh: "对账管理",
    en: "Reconciliation",
    icon: <ReconciliationOutlined />,
    pages: [
      { path: "/finance", zh: "财政对账", en: "With finance", anyOf: ["finance.read"] },
      { path: "/finance/exchange", zh: "财政交互", en: "Exchange", anyOf: ["finance.read"] },
    ],
  },
  {
    key: "payments",
    zh: "缴款管理",
    en: "Payments",
    icon: <AccountBookOutlined />,
    pages: [
      { path: "/payments/list", zh: "缴款查询", en: "Payments", anyOf: ["payment.read"] },
      { path: "/payments/refunds", zh: "退款查询", en: "Refunds", anyOf: ["payment.read"] },
      { path: "/payments/reconciliations", zh: "渠道对账", en: "Channel day-end", anyOf: ["payment.read"] },
      { path: "/payments/statements", zh: "统一对账单", en: "Unified statement", anyOf: ["payment.read"] },
      { path: "/payments/differences", zh: "差异工作台", en: "Differences", anyOf: ["payment.read"] },
      { path: "/payments/funds", zh: "到账核对", en: "Funds arrival", anyOf: ["payment.read"] },
      { path: "/payments/clearing", zh: "资金清分", en: "Clearing", anyOf: ["payment.read"] },
    ],
  },
  {
    key: "base",
    zh: "基础信息",
    en: "Base data",
    icon: <SettingOutlined />,
    pages: [
      { path: "/base", zh: "开票点与项目", en: "Points and items", anyOf: ["base.read"] },
      { path: "/base/item-groups", zh: "项目分组", en: "Item groups", anyOf: ["base.read"] },
    ],
  },
  {
    key: "reports",
    zh: "统计报表",
    en: "Reports",
    icon: <BarChartOutlined />,
    pages: [{ path: "/reports", zh: "统计报表", en: "Reports", anyOf: ["report.read"] }],
  },
  {
    key: "system",
    zh: "系统管理",
    en: "System",
    icon: <AuditOutlined />,
    pages: [
      { path: "/system/users", zh: "用户管理", en: "Users", anyOf: ["user.read"] },
      { path: "/system/roles", zh: "角色管理", en: "Roles", anyOf: ["user.read"] },
      { path: "/system/sessions", zh: "会话管理", en: "Sessions", anyOf: ["user.read"] },
      { path: "/system/audit", zh: "日志管理", en: "Audit log", anyOf: ["audit.read"] },
    ],
  },
];

export function visiblePages(permissions: readonly string[]): Page[] {
  return SECTIONS.flatMap((s) => s.pages).filter((p) => p.anyOf.some((x) => permissions.includes(x)));
}
