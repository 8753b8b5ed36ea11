#!/usr/bin/env bash
# Makes the secrets k8s/ refers to, with fresh random values, in namespace piaoju (existing ones are
# kept: re-running never rotates a key under running data). Needs kubectl pointed at the cluster and
# openssl. Nothing here is committed or printed.
#   k8s/make-secrets.sh                      then   kubectl apply -k k8s/overlays/<dev|production>
set -euo pipefail
ns=${NAMESPACE:-piaoju}
services=(stock issuance gateway finance-exchange delivery signing-gateway reporting payment)

kubectl get namespace "$ns" >/dev/null 2>&1 || kubectl create namespace "$ns" >/dev/null
secret() { # name key=value…
  local name=$1
  shift
  if kubectl -n "$ns" get secret "$name" >/dev/null 2>&1; then
    echo "kept    $name"
    return
  fi
  local args=()
  for kv in "$@"; do args+=(--from-literal="$kv"); done
  kubectl -n "$ns" create secret generic "$name" "${args[@]}" >/dev/null
  echo "created $name"
}
hex() { openssl rand -hex "$1"; }

secret piaoju-internal-token token="$(openssl rand -base64 32 | tr -d '\n')"
secret piaoju-secrets-key key="$(hex 16)"
# The root of the agencies' check-code secrets (issuance): a receipt's code never changes, so this
# key rotates only by putting a new one first in the list (key=<new>,<old>), never by replacing it.
secret piaoju-check-code-key key="$(hex 16)"
# The gateway signs who a person is for the services (Ed25519, ADR 0012): the private half for the
# gateway only, the public half for every service. Not a root key: nothing at rest depends on it, so
# replacing it (delete the secret, run this again, restart) costs only the assertions in flight.
assertion_der=$(openssl genpkey -algorithm ed25519 -outform DER | base64 | tr -d '\n')
assertion_pub=$(printf %s "$assertion_der" | base64 -d | openssl pkey -inform DER -pubout -outform DER | base64 | tr -d '\n')
secret piaoju-assertion-key private="$assertion_der" public="$assertion_pub"
secret piaoju-postgres-admin password="$(hex 24)"
# A KRaft cluster id: 16 random bytes, base64url without padding (what kafka-storage random-uuid prints).
secret piaoju-kafka cluster-id="$(openssl rand 16 | base64 | tr '+/' '-_' | tr -d '=\n')"
for s in "${services[@]}"; do
  role="piaoju_${s//-/_}"
  pw=$(hex 24)
  secret "piaoju-db-$s" password="$pw" url="postgres://$role:$pw@postgres:5432/$role"
done
# The two software devices are a hot-standby pair holding the same agency keys, so they seal with the
# same keystore key (sealed files copy from A to B; k8s/README.md, "Signing devices"). A hardware
# device that replaces one of them has its own secret.
keystore_key=$(hex 16)
secret piaoju-signing-device-a keystore-key="$keystore_key"
secret piaoju-signing-device-b keystore-key="$keystore_key"
