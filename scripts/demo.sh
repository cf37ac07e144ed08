#!/usr/bin/env bash
# README command 1: build, start the sample echo server on a free port, and talk to it with
# the `syncws` command-line client over a real WebSocket connection.
#
#   bash scripts/demo.sh
#
# On a terminal the client is interactive (type lines; Ctrl-D closes). Otherwise a scripted
# session sends a few messages, checks each echo, and closes. Installs what is missing like
# scripts/test.sh and shares its build directory. Exits non-zero if anything goes wrong.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/common.sh

syncws_ensure_packages
log=$(mktemp)
work=$(mktemp -d)
server_pid=
cleanup() {
    if [[ -n $server_pid ]]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$log" "$work"
}
trap cleanup EXIT

echo "==> building the echo server and the syncws client in build/"
if ! { syncws_setup build --werror && meson compile -C build echo_server samples/syncws:executable; } >"$log" 2>&1
then
    cat "$log"
    exit 1
fi

# The session stays on this machine: proxy variables (which apt-get above may need) must
# not send the client to a proxy.
on_loopback=(env -u http_proxy -u HTTP_PROXY -u all_proxy -u ALL_PROXY)

# Port 0: the kernel picks a free port; the server prints the address it got on its first
# line, which we wait for through a FIFO (no polling).
mkfifo "$work/server"
build/samples/echo_server --host 127.0.0.1 --port 0 >"$work/server" 2>&1 &
server_pid=$!
exec {server_fd}<"$work/server"
read -r -t 30 first_line <&"$server_fd" || { echo "echo_server did not start"; exit 1; }
address=${first_line#echo_server listening on }
[[ $address == ws://* ]] || { echo "echo_server: $first_line"; exit 1; }
url="$address/demo"
echo "==> echo server listening on $address"

if [[ -t 0 ]]; then
    echo "==> build/samples/syncws $url   (type messages; Ctrl-D to close)"
    "${on_loopback[@]}" build/samples/syncws "$url"
    exit
fi

echo "==> scripted session: build/samples/syncws $url"
coproc CLIENT { "${on_loopback[@]}" build/samples/syncws "$url" 2>&1; }
read -r -t 10 greeting <&"${CLIENT[0]}"
echo "$greeting"
for message in "Hello, syncws!" "κόσμε — UTF-8 travels intact" "{\"type\":\"bye\"}"; do
    echo "> $message"
    printf '%s\n' "$message" >&"${CLIENT[1]}"
    read -r -t 10 reply <&"${CLIENT[0]}" || { echo "no echo within 10 s"; exit 1; }
    echo "$reply"
    [[ $reply == "< $message" ]] || { echo "unexpected echo"; exit 1; }
done
client_pid=$CLIENT_PID
exec {CLIENT[1]}>&- # end of input: the client closes the connection (1000)
while read -r -t 10 line <&"${CLIENT[0]}"; do echo "$line"; done
wait "$client_pid"
echo "==> session closed cleanly"
