export { type AlipaySimulator, type AlipayTrade, type NotifyMode, startAlipaySimulator } from "./alipay.ts";
export {
  type NotifyTamper,
  startWechatSimulator,
  type WechatMerchant,
  type WechatSimulator,
  type WechatTrade,
} from "./wechat.ts";
