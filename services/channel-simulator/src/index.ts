export { type AlipaySimulator, type AlipayTrade, type NotifyMode, startAlipaySimulator } from "./alipay.ts";
export {
  type AccountCredit,
  type BankAnswer,
  type BankSimulator,
  type BankTrade,
  startBankSimulator,
} from "./bank.ts";
export { type Decision, type PoliceSimulator, startPoliceSimulator } from "./police.ts";
export {
  startUnionpaySimulator,
  type UnionpayRefund,
  type UnionpaySimulator,
  type UnionpayTamper,
  type UnionpayTrade,
} from "./unionpay.ts";
export {
  type NotifyTamper,
  startWechatSimulator,
  type WechatMerchant,
  type WechatRefund,
  type WechatSimulator,
  type WechatTrade,
} from "./wechat.ts";
