#!/bin/bash
# The official Elasticsearch image's environment contract, for the integ-test build (which
# reads neither): every variable whose name looks like a setting (lower case with a dot, e.g.
# discovery.type, xpack.security.enabled) or is ES_SETTING_<NAME> (_ for ., __ for _)
# becomes `-E name=value`; ELASTIC_PASSWORD (or ELASTIC_PASSWORD_FILE) becomes the keystore's
# bootstrap.password. Any other command (compose.yaml's `setup` runs bash) runs as given.
set -euo pipefail

if [ "$#" -gt 0 ] && [ "${1#-}" = "$1" ] && [ "$1" != eswrapper ]; then
  exec "$@"
fi
[ "${1:-}" = eswrapper ] && shift

settings=()
while IFS= read -r -d '' entry; do
  name=${entry%%=*} value=${entry#*=}
  if [[ $name =~ ^[a-z0-9_]+\.[a-z0-9_.]+$ ]]; then
    settings+=(-E "$name=$value")
  elif [[ $name =~ ^ES_SETTING_([A-Z0-9_]+)$ ]]; then
    setting=${BASH_REMATCH[1],,}; setting=${setting//__/$'\1'}; setting=${setting//_/.}; setting=${setting//$'\1'/_}
    settings+=(-E "$setting=$value")
  fi
done < <(env -0)

if [ -n "${ELASTIC_PASSWORD_FILE:-}" ]; then
  ELASTIC_PASSWORD=$(cat "$ELASTIC_PASSWORD_FILE")
fi
if [ -n "${ELASTIC_PASSWORD:-}" ]; then
  [ -f config/elasticsearch.keystore ] || elasticsearch-keystore create >/dev/null
  # --stdin: the password never appears on a command line.
  printf '%s' "$ELASTIC_PASSWORD" | elasticsearch-keystore add --force --stdin bootstrap.password >/dev/null
fi
unset ELASTIC_PASSWORD ELASTIC_PASSWORD_FILE

exec elasticsearch "${settings[@]}" "$@"
