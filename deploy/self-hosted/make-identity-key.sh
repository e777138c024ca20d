#!/bin/sh
# Make the ed25519 private key restate-server signs its requests to the services with, and print
# the matching public key id (publickeyv1_…) for the services' LANDLORD_SERVICES_IDENTITY_KEYS.
#
# Usage: make-identity-key.sh PEM_PATH      e.g. make-identity-key.sh /etc/restate/request-identity.pem
#
# The key is written with mode 600 and never overwrites an existing file. Only the id goes to
# stdout (KEY_ID=$(make-identity-key.sh PATH) works); messages go to stderr.
# The id is "publickeyv1_" + base58 (bitcoin alphabet) of the raw 32-byte public key, which is
# what restate-server logs as `kid` when it loads the key. Needs openssl and python3.
set -eu

if [ "$#" -ne 1 ] || [ -z "$1" ]; then
    echo "usage: $0 PEM_PATH" >&2
    exit 2
fi
key=$1

if [ -e "$key" ] || [ -L "$key" ]; then
    echo "error: $key already exists; refusing to overwrite it (move it away first)" >&2
    exit 1
fi
for tool in openssl python3; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "error: $tool is needed but not on PATH" >&2
        exit 1
    fi
done

dir=$(dirname -- "$key")
if [ ! -d "$dir" ]; then
    echo "error: directory $dir does not exist" >&2
    exit 1
fi

# Write into a private temporary file beside the target, then hard-link it into place: `ln`
# fails if the target appeared meanwhile, so an existing key is never replaced.
umask 077
tmp="$dir/.identity-key.$$.tmp"
trap 'rm -f -- "$tmp"' EXIT
trap 'exit 1' HUP INT TERM
openssl genpkey -algorithm ed25519 -out "$tmp" 2>/dev/null || {
    echo "error: openssl could not make an ed25519 key (OpenSSL 1.1.1 or newer is needed)" >&2
    exit 1
}
chmod 600 "$tmp"

# DER SubjectPublicKeyInfo of an ed25519 key: a fixed 12-byte header, then the 32-byte key.
key_id=$(openssl pkey -in "$tmp" -pubout -outform DER | python3 -c '
import sys

der = sys.stdin.buffer.read()
header = bytes.fromhex("302a300506032b6570032100")
if len(der) != 44 or not der.startswith(header):
    sys.exit("error: openssl did not return an ed25519 public key")
raw = der[len(header):]
alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
number = int.from_bytes(raw, "big")
digits = ""
while number:
    number, remainder = divmod(number, 58)
    digits = alphabet[remainder] + digits
ones = "1" * (len(raw) - len(raw.lstrip(b"\0")))
print("publickeyv1_" + ones + digits)
')

if ! ln -- "$tmp" "$key" 2>/dev/null; then
    echo "error: could not create $key (does it exist now?)" >&2
    exit 1
fi
echo "wrote $key (mode 600); give the services this id:" >&2
echo "$key_id"
