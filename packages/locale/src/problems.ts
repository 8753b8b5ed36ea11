/**
 * What a refusal says in Chinese. Every problem document the platform answers carries its English
 * detail (specific: which receipt, which number) and a Chinese sentence for its code, written here
 * once for the whole platform, so a clerk at the console and a business system's developer read the
 * same thing. Field issues get theirs from the rule they broke (see `fieldMessageZh`).
 *
 * A unit test holds this catalog to the codes the source throws: a new code without its Chinese
 * sentence fails the suite.
 */
export const PROBLEM_ZH: Readonly<Record<string, string>> = {
  // ---- request shape and authentication ----
  VALIDATION_FAILED: "请求内容有误，请按提示修改相应字段",
  BAD_INPUT: "请求内容有误",
  BAD_REQUEST: "请求不合要求",
  HEADERS_TOO_LARGE: "请求头过大，服务器无法处理",
  REQUEST_TIMEOUT: "请求未能及时传送完毕",
  MALFORMED_REQUEST: "请求不是合法的 HTTP 报文",
  BAD_CURSOR: "分页游标无效，请从第一页重新查询",
  REPORT_TOO_LARGE: "报表行数超过上限（导出最多 20,000 行）：请缩小统计期间或增加筛选条件",
  UNSTORABLE_TEXT: "文本中含有无法保存的控制字符",
  FST_ERR_CTP_INVALID_MEDIA_TYPE: "只接受 UTF-8 编码的 JSON 请求体",
  NO_ROUTE: "没有这个接口",
  ROUTE_UNKNOWN: "没有这个接口",
  ROUTE_UNGOVERNED: "该接口未配置访问规则，已拒绝",
  UNAUTHENTICATED: "未通过身份认证",
  ASSERTION_REQUIRED: "缺少调用者身份断言",
  ASSERTION_REFUSED: "调用者身份断言无效或已过期",
  SIGNATURE_HEADERS: "请求签名头不完整或格式错误",
  BAD_SIGNATURE: "请求签名不正确",
  BAD_SIGNATURE_FORMAT: "签名格式不正确",
  NONCE_REUSED: "随机数已被使用（疑似重放请求）",
  REPLAYED_NONCE: "随机数已被使用（疑似重放请求）",
  STALE_REQUEST: "请求时间戳与服务器时间相差过大",
  APP_UNKNOWN: "接入应用不存在",
  NOT_YOUR_APP: "不能修改其他应用的设置",
  FORBIDDEN: "没有权限执行此操作",
  PERMISSION_DENIED: "没有执行此操作的权限",
  OUT_OF_SCOPE: "超出您的数据权限范围",
  OPERATORS_ONLY: "仅平台运维人员可以执行此操作",
  RATE_LIMITED: "请求过于频繁，请稍后再试",
  CSRF_REFUSED: "页面安全令牌缺失或错误，请刷新页面后重试",
  SESSION_REQUIRED: "请先登录",
  LOGIN_FAILED: "用户名或密码错误，或账号已被锁定",
  TOTP_REQUIRED: "该账号需要输入动态验证码",
  TOTP_ENROLLED: "已绑定动态验证码，如需重置请联系管理员",
  USER_EXISTS: "用户名已存在",
  USER_UNKNOWN: "用户不存在",
  SELF_CHANGE: "不能停用自己的账号",
  SELF_GRANT: "不能给自己授权",
  ALREADY_EXISTS: "记录已存在",
  CONFLICT: "与当前状态冲突",
  INTERNAL: "系统内部错误，请联系管理员",
  UPSTREAM_UNAVAILABLE: "后端服务未及时响应，请稍后重试",
  DATABASE_UNAVAILABLE: "服务的数据库暂时不可用，本次请求未生效，请稍后重试",
  PIAOJU_GM_NATIVE_MISSING: "国密原生模块未编译",

  // ---- agencies, bill kinds, items, issuing points ----
  ITEM_GROUP_EXISTS: "已有同名的项目分组",
  ITEM_GROUP_UNKNOWN: "没有这个项目分组",
  AGENCY_NOT_FOUND: "单位不存在",
  UNKNOWN_AGENCY: "单位不存在",
  BILL_KIND_EXISTS: "该票据种类已登记",
  BILL_KIND_UNKNOWN: "票据种类未登记或已停用",
  UNKNOWN_BILL_KIND: "不是本单位已启用的票据种类",
  ITEM_EXISTS: "收入项目已存在",
  ISSUING_POINT_EXISTS: "开票点已存在",
  ISSUING_POINT_NOT_ALLOWED: "该应用不能在此开票点收款",

  // ---- stock (票据库存) ----
  APPLICATION_CONFLICT: "同一申领单号此前以不同的票据代码或数量提交过",
  APPLICATION_DECIDED: "该申领已处理",
  APPLICATION_NOT_FOUND: "申领单不存在",
  APPLICATION_UNKNOWN: "申领单不存在",
  FINANCE_REF_REUSED: "该财政批复号已用于其他号段",
  SEGMENT_ALREADY_STOCKED: "该号段已入库",
  SEGMENT_OVERLAPS: "号段与已有号段重叠",
  SEGMENT_UNKNOWN: "号段不存在",
  RANGE_ALREADY_REMOVED: "号码与已退回或已作废的号码重叠",
  RANGE_DISTRIBUTED: "号码已分发到开票点",
  RANGE_NOT_IN_STOCK: "号码不在同一个库存号段内",
  NOT_ENOUGH_STOCK: "库存未分发号码不足",
  NO_STOCK: "开票点没有可用票号，请先分发",
  NUMBERS_EXHAUSTED: "票号不足",
  NUMBER_USED: "票号已使用",
  NUMBER_NOT_ISSUED: "该票号未开具",
  DUPLICATE_NUMBER: "票号重复",

  // ---- receipts (开票) ----
  FREQUENT_PAYER_EXISTS: "该交款人已保存为本开票点的常用交款人",
  FREQUENT_PAYER_UNKNOWN: "没有这个常用交款人",
  BIZ_SERIAL_REUSED: "业务流水号已用于另一笔业务",
  BAD_AMOUNT: "金额不正确",
  RECEIPT_NOT_FOUND: "未找到票据，请核对票据代码、号码和校验码",
  RECEIPT_UNKNOWN: "票据不存在",
  ORIGINAL_NOT_FOUND: "原票据不存在",
  NOT_ISSUED: "票据尚未开具完成",
  NOT_SUPERVISED: "票据尚未经财政监制",
  TRANSITION_REFUSED: "票据当前状态不允许此操作",
  RED_RECEIPT: "红字票据不能执行此操作",
  ALREADY_RED_FLUSHED: "票据已冲红",
  RED_FLUSH_IN_PROGRESS: "票据正在冲红，暂不能执行此操作",
  BOOKED: "票据已入账",
  PAPER_EXCHANGED: "票据已换开纸质票据",
  PAPER_NUMBER_TAKEN: "该纸质票据号码已被其他票据使用",
  VOIDED_BUT_SUPERVISED: "票据已作废但财政已监制",
  DOCUMENT_MISMATCH: "票据文件与记录不一致",
  DOCUMENT_DIGEST_MISMATCH: "票据文件摘要不一致",
  DOCUMENT_MALFORMED: "票据文件缺少票头或票据数据，无法签名",
  BAD_DOCUMENT_DIGEST: "票据文件摘要格式不正确",
  SIGNED_DOCUMENT_MISMATCH: "签名所覆盖的票据文件与开具的不一致",
  SUPERVISED_NUMBER_MISMATCH: "财政监制的票号与票据不一致",
  BAD_AGENCY_SIGNATURE: "单位签名验证失败",

  // ---- signing and certificates ----
  NO_KEY: "签名设备中没有该单位的密钥",
  NO_AGENCY_KEY: "没有该单位的签名密钥",
  NO_CERTIFICATE: "没有可用的证书",
  CERTIFICATE_NOT_FOUND: "该单位未绑定此证书",
  CERTIFICATE_BOUND_ELSEWHERE: "证书已绑定到其他单位",
  CERTIFICATE_NOT_AGENCY: "不是单位签名证书",
  CERTIFICATE_NOT_VALID: "证书不在有效期内",
  CERT_EXPIRED: "证书已过期",
  CERTIFICATE_REVOKED: "证书已吊销",
  CERTIFICATE_UNTRUSTED: "证书不受信任",
  DEVICE_REFUSED: "签名设备拒绝了请求",
  DECRYPT_FAILED: "解密失败",
  FORGED: "签名无效（疑似伪造）",

  // ---- finance exchange (财政交互) ----
  REPORT_CONFLICT: "该审验报告此前以不同内容提交过",
  REPORT_NOT_FOUND: "审验报告不存在",
  REPORT_UNKNOWN: "审验报告不存在",
  REPORT_NOT_READY: "该日对账尚未完成",
  DOUBLE_REPORTED: "重复上报",
  UNREPORTED: "未上报",
  ARCHIVE_UNKNOWN: "归档中没有该文件",

  // ---- delivery (交付) ----
  DELIVERY_UNKNOWN: "该票据没有此渠道的交付记录",
  PICKUP_CODE_INVALID: "验证码错误或已过期，请重新获取",
  PICKUP_TOKEN_INVALID: "链接已过期，请重新查询票据",
  NO_CALLBACKS: "没有可重新推送的结果",

  // ---- payments (缴款) ----
  DIFFERENCE_NOT_FOUND: "没有这条对账差异",
  DIFFERENCE_NOT_OPEN: "该差异已处理或已自动修复，无需再标记",
  CLEARING_INSTRUCTION_NOT_FOUND: "没有这条清分划转指令",
  CLEARING_INSTRUCTION_DONE: "该划转指令已完成，不能重新发送",
  CLEARING_RESEND_IN_FLIGHT: "该划转指令正在重新发送，请等待结果后再操作",
  ALREADY_PAID: "该笔缴款已支付",
  DUPLICATE_PAYMENT: "该缴款书已缴费",
  AMOUNT_DUE_CHANGED: "应缴金额已变化（加处罚款），请重新确认",
  AMOUNT_MISMATCH: "实缴金额与应缴金额不符",
  CHANNEL_NOT_ENABLED: "单位未开通该支付渠道",
  CHANNEL_REFUSED: "支付渠道拒绝了请求",
  CHANNEL_UNKNOWN: "没有这个支付渠道",
  CHANNEL_UNAVAILABLE: "支付渠道暂时无法访问，请稍后重试",
  ORDER_OPEN: "该笔缴款在支付渠道有未完成的订单，请稍后重试",
  PAYMENT_CLOSED: "该笔缴款已关闭",
  PAYMENT_CODE_EXHAUSTED: "缴款识别码已用完",
  PAYMENT_IN_PROGRESS: "该笔缴款正在创建，请稍后重试",
  PAYMENT_NOT_FOUND: "缴款记录不存在",
  CASHIER_LINK_INVALID: "链接无效",
  NOTICE_CONFLICT: "业务流水号已用于另一张缴款书",
  NOTICE_VOIDED: "缴款书已作废",
  UNKNOWN_NOTICE: "缴款书不存在",
  NONTAX_BAD_CODE: "非税系统返回的缴款识别码校验不通过",
  NONTAX_NOT_CONFIGURED: "单位未配置与非税系统的密钥",
  NONTAX_REFUSED: "非税系统拒绝了请求",
  NONTAX_UNAVAILABLE: "非税系统未响应，请稍后重试",
  // refunds (原渠道退回)
  NOT_PAID: "该笔缴款尚未支付，不能退款",
  ALREADY_REFUNDED: "该笔缴款已全额退款",
  REFUND_EXCEEDS_PAID: "退款金额超过可退金额",
  REFUND_SERIAL_REUSED: "退款流水号已用于另一笔退款",
  REFUND_CONFLICT: "退款编号已用于另一笔退付申请",
  NOT_PAID_BY_TRADE: "该缴款书不是由此笔交易缴纳的",
  NOT_A_DUPLICATE: "该交易是缴款书的正常缴款，不是重复缴款",
  REFUND_NOT_APPROVED: "退付申请尚未审批通过",
  REFUND_NOT_PENDING: "退付申请不在待审批状态",
  UNKNOWN_REFUND: "退付申请不存在",
  // bank counter (银行柜台查缴) and funds arrival (到账资金对账)
  BANK_SIGNATURE_INVALID: "银行报文校验（MAC）不通过",
  BANK_SERIAL_REUSED: "银行交易流水号已用于另一笔报文",
  BANK_TRANSACTION_NOT_FOUND: "没有该银行交易流水号的缴款",
  ALREADY_REVERSED: "该笔缴款已冲正",
  REVERSAL_TOO_LATE: "只能当日冲正",
  DECISION_NOT_FOUND: "交警业务系统中没有该处罚决定书",
  BUSINESS_SYSTEM_UNAVAILABLE: "交警业务系统未响应，请稍后重试",
  FUNDS_RECONCILIATION_NOT_FOUND: "该日尚未进行到账资金对账",
  // clearing (资金清分)
  CLEARING_NOT_RECONCILED: "该日尚未完成与全部支付渠道的对账，不能清分",
  CLEARING_DIFFERENCES_OPEN: "该日对账仍有未处理的差异，不能清分",
  CLEARING_RULE_MISSING: "有收入项目未配置清分规则",
  CLEARING_DAY_NOT_OVER: "该营业日尚未结束，不能清分",
  CLEARING_NOT_FOUND: "该日尚未清分",
  CLEARING_CONFLICT: "清分指令编号已用于另一笔指令",
  UNKNOWN_CLEARING_INSTRUCTION: "清分指令不存在",
  CLEARING_NOT_ACCEPTED: "清分指令不在处理中状态",
};

/** When a code has no sentence of its own: what its kind means. */
export const KIND_ZH: Readonly<Record<string, string>> = {
  validation: "请求内容有误",
  unauthenticated: "未通过身份认证",
  forbidden: "没有权限",
  not_found: "不存在",
  conflict: "与当前状态冲突",
  unavailable: "服务暂时不可用，请稍后重试",
};

export function problemZh(code: string, kind: string): string {
  return PROBLEM_ZH[code] ?? KIND_ZH[kind] ?? "请求未能完成";
}

/**
 * The English sentences of the field rules (packages/contracts and the services' own schemas),
 * each with its Chinese. Matched exactly; a message that is not here is described by its rule.
 */
const FIELD_MESSAGE_ZH: Readonly<Record<string, string>> = {
  "must not be empty or blank": "不能为空",
  "one line: no tab or line break": "只能是一行，不能含制表符或换行",
  "a name has at least one letter": "名称至少包含一个文字或字母",
  "a mainland mobile (11 digits), a landline with its area code (010-12345678) or +country number":
    "应为11位手机号、带区号的固定电话（如 010-12345678）或 +国家代码号码",
  "a mainland mobile number": "应为11位手机号",
  "an e-mail address": "应为电子邮件地址",
  "a business serial number is 1-64 letters, digits, _ . : or -": "业务流水号为1至64位字母、数字或 _ . : -",
  "an amount in integer fen": "金额以分为单位，应为整数",
  "an amount in integer fen: no fractions": "金额以分为单位，不能有小数",
  "more than zero": "必须大于零",
  "a calendar day, YYYY-MM-DD": "应为日期，格式 YYYY-MM-DD",
  "an ISO 8601 time with offset": "应为带时区的 ISO 8601 时间",
  "a person's ID card number is 17 digits and a digit or X": "身份证号码应为17位数字加一位数字或 X",
  "the ID card number's birth date (digits 7-14) is not a date": "身份证号码中的出生日期（第7至14位）无效",
  "the ID card number's check character (the 18th) does not match": "身份证号码校验位（第18位）不正确",
  "a unified social credit code is 18 characters: digits and capitals except I, O, S, V, Z":
    "统一社会信用代码为18位数字或大写字母（不含 I、O、S、V、Z）",
  "the unified social credit code's check character (the 18th) does not match":
    "统一社会信用代码校验位（第18位）不正确",
  "18 digits or capital letters": "应为18位数字或大写字母",
  "a bank account: letters and digits, optionally grouped by spaces or hyphens":
    "银行账号只能包含字母和数字，可用空格或连字符分组",
  "1-32 letters, digits, _ . or -": "应为1至32位字母、数字或 _ . -",
  "1-64 letters, digits, _ - . or :": "应为1至64位字母、数字或 _ - . :",
  "16-64 letters, digits, _ or -, new for every call": "应为16至64位字母、数字或 _ -，每次调用不同",
  "16-64 of A-Z a-z 0-9 _ -": "应为16至64位字母、数字或 _ -",
  "3-64 letters, digits, _ . @ -, starting with a letter": "应为3至64位字母、数字或 _ . @ -，以字母开头",
  "6 digits": "应为6位数字",
  "Unix time in milliseconds": "应为毫秒级 Unix 时间戳",
  "a bill code is 8 digits": "票据代码为8位数字",
  "a bill number is 10 digits": "票据号码为10位数字",
  "a check code is 6 digits": "校验码为6位数字",
  "a decimal with at most 4 places": "应为最多4位小数的数字",
  "a known permission": "不是已定义的权限",
  "a month is YYYY-MM": "月份格式为 YYYY-MM",
  "a period is YYYY-MM": "期间格式为 YYYY-MM",
  "a period is a month, YYYY-MM": "期间为月份，格式 YYYY-MM",
  "a year is YYYY": "年份格式为 YYYY",
  "a payment code is 20 digits": "缴款识别码为20位数字",
  "not a payment code (20 digits, check digit)": "不是有效的缴款识别码（20位，含校验位）",
  "the payment code's check digit is wrong": "缴款识别码校验位不正确",
  "amountMaxFen must not be below amountMinFen": "金额上限不能小于金额下限",
  "an SM3 digest is 64 lower-case hex digits": "SM3 摘要为64位小写十六进制字符",
  "an agency code is 1-32 letters or digits": "单位编码为1至32位字母或数字",
  "an issuing point code is 1-32 letters, digits, _ or -": "开票点编码为1至32位字母、数字或 _ -",
  "audit.read goes in a role of its own (三员分立)": "审计权限须单独成一个角色（三员分立）",
  "endNumber must not be below startNumber": "终止号不能小于起始号",
  "startNumber must not exceed endNumber": "起始号不能大于终止号",
  "numberTo must not be below numberFrom": "终止号不能小于起始号",
  "from must not be after to": "开始日期不能晚于结束日期",
  "to must not be before from": "结束日期不能早于开始日期",
  "periodEnd is before periodStart": "期间结束早于期间开始",
  "no item of the request has this code": "请求中没有该编码的项目",
  "not a cursor this search gave": "不是本查询给出的分页游标",
  "pass the nextCursor of the previous page": "请传入上一页返回的 nextCursor",
  "not a receipt's QR code text": "不是票据二维码的内容",
  "not one of the agency's enabled bill kinds": "不是本单位已启用的票据种类",
  "not the authenticator's current code": "动态验证码不正确",
  "not the current password": "当前密码不正确",
  "this field is not part of the request (or is set by the platform)":
    "请求中不应有此字段（或该字段由平台填写）",
  "a payment the platform took carries its settlement": "平台收取的缴款须带结算信息",
};

/** Field issues described by the rule they broke, when their sentence is not in the table above. */
const RULE_ZH: Readonly<Record<string, string>> = {
  storable_text: "含有无法保存的字符（控制字符、U+FFFE/U+FFFF 或单独的代理项）",
  required: "必填",
  unknown_field: "请求中不应有此字段（或该字段由平台填写）",
  duplicate_field: "字段重复出现",
  check_digit: "校验位不正确",
  unified_social_credit_code: "统一社会信用代码不正确",
  total_equals_sum_of_items: "合计金额应等于各项目金额之和",
  amount_equals_quantity_times_standard: "金额应等于数量乘以标准",
  income_item_enabled: "收入项目未启用",
  issuing_point_enabled: "开票点未启用",
  base_data: "基础信息中没有此项",
  not_future: "不能晚于当前时间",
  max_depth: "嵌套层数过深",
  max_bytes: "内容过长",
  max_size: "内容过大",
  content_length: "请求体长度不正确",
  media_type: "不支持的内容类型",
  json: "不是有效的 JSON",
  policy: "不符合密码策略",
  totp: "动态验证码不正确",
  separation: "违反三员分立",
  period: "期间不正确",
  range: "范围不正确",
  order: "顺序不正确",
  cursor: "分页游标无效",
  enum: "取值不在允许范围内",
  invalid_value: "取值不在允许范围内",
  format: "格式不正确",
  invalid_format: "格式不正确",
  invalid_type: "类型不正确",
  too_big: "超出允许的最大值或长度",
  too_small: "小于允许的最小值或长度",
  not_multiple_of: "不是允许的倍数",
  custom: "不符合规则",
};

const TYPE_ZH: Readonly<Record<string, string>> = {
  string: "文本",
  number: "数字",
  int: "整数",
  boolean: "布尔值",
  object: "对象",
  array: "数组",
  bigint: "整数",
  date: "日期",
};

/** What a zod issue carries that the Chinese sentence needs (structural: no zod import here). */
export interface FieldIssueFacts {
  rule: string;
  message: string;
  /** zod's issue code, when the issue came from zod. */
  code?: string;
  expected?: string;
  input?: unknown;
  origin?: string;
  maximum?: number | bigint;
  minimum?: number | bigint;
  inclusive?: boolean;
  values?: readonly unknown[];
}

/** A field issue's Chinese: its sentence if known, else what its rule and limits say. */
export function fieldMessageZh(issue: FieldIssueFacts): string {
  const exact = FIELD_MESSAGE_ZH[issue.message];
  if (exact) return exact;
  if (issue.rule === "storable_text" || issue.message.startsWith("contains U+"))
    return RULE_ZH.storable_text!;
  const what = issue.origin ?? issue.expected;
  switch (issue.code) {
    case "invalid_type":
      if (issue.input === undefined) return "必填";
      return `类型不正确，应为${TYPE_ZH[issue.expected ?? ""] ?? issue.expected ?? "其他类型"}`;
    case "too_big": {
      const n = String(issue.maximum);
      if (what === "string") return `最多 ${n} 个字符`;
      if (what === "array" || what === "set") return `最多 ${n} 项`;
      return issue.inclusive === false ? `应小于 ${n}` : `不能大于 ${n}`;
    }
    case "too_small": {
      const n = String(issue.minimum);
      if (what === "string") return n === "1" ? "不能为空" : `至少 ${n} 个字符`;
      if (what === "array" || what === "set") return `至少 ${n} 项`;
      if (n === "0" && issue.inclusive === false) return "必须大于零";
      return issue.inclusive === false ? `应大于 ${n}` : `不能小于 ${n}`;
    }
    case "invalid_value":
      return issue.values?.length
        ? `取值应为以下之一：${issue.values.map((v) => String(v)).join("、")}`
        : RULE_ZH.invalid_value!;
  }
  return RULE_ZH[issue.rule] ?? RULE_ZH[issue.code ?? ""] ?? "不符合规则";
}
