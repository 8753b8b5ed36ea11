export { type AlipaySimulator, type AlipayTrade, type NotifyMode, startAlipaySimulator } from "./alipay.ts";
