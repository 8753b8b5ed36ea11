// The bank counter's peers for the payment service's tests: the agency bank (its counter and
// front-end) and the traffic police business system, each with keys made here at test time.
import { randomBytes } from "node:crypto";
import {
  type BankSimulator,
  type PoliceSimulator,
  startBankSimulator,
  startPoliceSimulator,
} from "@piaoju/channel-simulator";

export interface BankRig {
  bank: BankSimulator;
  police: PoliceSimulator;
  /** The police system's secret (its decision source and its callbacks). */
  policeSecret: string;
  /** The bank's channel account, as PUT /v1/payment/channel-accounts/bank takes it. */
  account: {
    accountId: string;
    config: { macKey: string; baseUrl: string; account: string; settlementAccount: string };
  };
  stop(): Promise<void>;
}

export async function startBankRig(agencyCode: string, piaojuUrl: () => string): Promise<BankRig> {
  const policeSecret = randomBytes(24).toString("hex");
  const police = await startPoliceSimulator({ secret: policeSecret });
  const bank = await startBankSimulator({ piaojuUrl, agencyCode });
  return {
    bank,
    police,
    policeSecret,
    account: {
      accountId: bank.bankCode,
      config: {
        macKey: bank.macKey,
        baseUrl: bank.url,
        account: bank.account,
        settlementAccount: bank.clearingAccount,
      },
    },
    async stop() {
      await bank.close();
      await police.close();
    },
  };
}
