export { type AlipaySimulator, type AlipayTrade, type NotifyMode, startAlipaySimulator } from "./alipay.ts";
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
  type WechatSimulator,
  type WechatTrade,
} from "./wechat.ts";
