#!/usr/bin/env bash
# Scan the stack with checkov in both transports: checkov leaves out resources whose condition is false
# with the parameters' defaults, so HTTP mode's load balancer is scanned from a copy defaulting to http.
# Offline (--skip-download): no Prisma Cloud guidelines, only the checks checkov ships.
set -euo pipefail
checkov="$1"
template="$2"
copy="$(mktemp -d)/deploybot-http.cfn.yml"
sed 's/^    Default: socket$/    Default: http/' "$template" > "$copy"
if cmp -s "$template" "$copy"; then
  echo "scan.sh: could not make the HTTP-mode copy (Transport's default moved?)" >&2
  exit 2
fi
for file in "$template" "$copy"; do
  "$checkov" --quiet --compact --skip-download --framework cloudformation -f "$file"
done
