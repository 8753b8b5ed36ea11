// The daemon alone in a process of its own, as `piaoju --service finance-exchange` runs it,
// without the other services: the crash test kills it with SIGKILL and starts it again.
import { startPlatform } from "@piaoju/runtime";
import { financeExchangeService } from "../main.ts";

const platform = await startPlatform({
  mode: "cluster",
  services: [financeExchangeService],
  env: process.env,
});
const stop = () => {
  void platform.stop().then(() => process.exit(0));
};
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
