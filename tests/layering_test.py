#!/usr/bin/env python3
"""The layering of DESIGN.md as a test: the sans-I/O engine (lib/proto) includes nothing
that does I/O, threading, timekeeping or logging, and lib/net knows nothing of WebSocket.

The include paths already keep lib/proto from reaching lib/net or lib/sync headers; this
test covers the standard and system headers an include path cannot hide."""
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1])
include_re = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]', re.M)

rules = {
    'lib/proto': {
        'forbidden': [
            'thread', 'mutex', 'shared_mutex', 'condition_variable', 'future', 'chrono',
            'ctime', 'time.h', 'sys/time.h', 'atomic', 'iostream', 'cstdio', 'stdio.h',
            'sys/socket.h', 'netinet/in.h', 'arpa/inet.h', 'netdb.h', 'unistd.h', 'poll.h',
            'pthread.h', 'openssl/ssl.h', 'syncws/log.hpp', 'syncws/connection.hpp',
            'syncws/client.hpp', 'syncws/server.hpp', 'syncws/tls.hpp',
        ],
        'forbidden_prefixes': ['../', 'net/', 'sync/'],
    },
    'lib/net': {
        'forbidden': ['syncws/protocol.hpp', 'syncws/frame.hpp', 'syncws/extension.hpp',
                      'syncws/connection.hpp', 'syncws/client.hpp', 'syncws/server.hpp'],
        'forbidden_prefixes': ['../', 'proto/', 'sync/'],
    },
}

failures = []
for directory, rule in rules.items():
    for path in sorted((root / directory).glob('*.[ch]pp')):
        for included in include_re.findall(path.read_text()):
            if included in rule['forbidden'] or any(
                    included.startswith(p) for p in rule['forbidden_prefixes']):
                failures.append(f'{path.relative_to(root)} includes <{included}>')

for failure in failures:
    print(failure)
print(f'{len(failures)} layering violations')
sys.exit(1 if failures else 0)
