#!/bin/sh
# A naive Ticket API client in POSIX sh and curl, for `authzcheck client`: correct on the wire,
# but it asks the token endpoint for a new token before every API call, the commonest
# integration defect (CLIENT-04 fails). The one line that makes it naive is marked DEFECT.
#
# Environment: AUTHZ_TOKEN_URL, AUTHZ_API_URL, AUTHZ_CLIENT_ID, AUTHZ_CLIENT_SECRET, AUTHZ_CA_FILE
# (optional). Calls the API until SIGTERM or SIGINT, then exits 0.
set -u
for v in AUTHZ_TOKEN_URL AUTHZ_API_URL AUTHZ_CLIENT_ID AUTHZ_CLIENT_SECRET; do
	eval "val=\${$v:-}"
	if [ -z "$val" ]; then
		echo "$v is not set: run me under \`authzcheck client\`" >&2
		exit 2
	fi
done

# Certificates: trust the CA we were given; never -k.
set -- --silent --show-error --max-time 10 --proto =http,https
if [ -n "${AUTHZ_CA_FILE:-}" ]; then
	set -- "$@" --cacert "$AUTHZ_CA_FILE"
fi
api=${AUTHZ_API_URL%/}
# The Basic credential goes to curl on stdin (-H @-), never in its arguments, where ps shows it.
basic=$(printf '%s:%s' "$AUTHZ_CLIENT_ID" "$AUTHZ_CLIENT_SECRET" | base64 | tr -d '\n')

token() {
	printf 'Authorization: Basic %s\n' "$basic" |
		curl "$@" -H @- -H 'Content-Type: application/x-www-form-urlencoded' \
			--data 'grant_type=client_credentials' "$AUTHZ_TOKEN_URL" |
		sed -n 's/.*"access_token"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p'
}

stop=
trap 'stop=1' TERM INT
while [ -z "$stop" ]; do
	tok=$(token "$@") # DEFECT: a new token for every call; keep it for expires_in instead
	if [ -z "$tok" ]; then
		echo "no token from the token endpoint" >&2
		sleep 1
		continue
	fi
	echo_token=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
	code=$(printf 'Authorization: Bearer %s\n' "$tok" |
		curl "$@" -H @- -H "echo-token: $echo_token" -H "distributor-id: $AUTHZ_CLIENT_ID" \
			-o /dev/null -w '%{http_code}' "$api/products")
	if [ "$code" != 200 ]; then
		echo "GET /products: $code" >&2
		sleep 1
	fi
	sleep 0.05
done
exit 0
