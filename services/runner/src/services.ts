import { deliveryService } from "@piaoju/delivery";
import { financeExchangeService } from "@piaoju/finance-exchange";
import { gatewayService } from "@piaoju/gateway";
import { issuanceService } from "@piaoju/issuance";
import { paymentService } from "@piaoju/payment";
import { reportingService } from "@piaoju/reporting";
import type { ServiceModule } from "@piaoju/runtime";
import { signingGatewayService } from "@piaoju/signing-gateway";
import { stockService } from "@piaoju/stock";

/** Every service the platform has, by name. Adding a service means adding it here. */
export const services: readonly ServiceModule[] = [
  stockService,
  issuanceService,
  gatewayService,
  financeExchangeService,
  deliveryService,
  signingGatewayService,
  reportingService,
  paymentService,
];
