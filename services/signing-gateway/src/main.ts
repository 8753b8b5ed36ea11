export { startSigningGateway } from "./gateway.ts";
