#!/usr/bin/env bash
# Makes sure PostgreSQL, Redis and RabbitMQ answer on loopback before the tests run. If one is installed here but
# stopped, it is started; if it cannot be reached, this fails loudly (the suite never skips them).
set -u
PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}
REDIS_PORT=${REDIS_PORT:-6379}
AMQP_PORT=${AMQP_PORT:-5672}

pg_up() { pg_isready -q -h "$PGHOST" -p "$PGPORT" 2>/dev/null || python3 - "$PGHOST" "$PGPORT" <<'PY'
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1).close()
except OSError:
    sys.exit(1)
PY
}
redis_up() { (exec 3<>/dev/tcp/127.0.0.1/"$REDIS_PORT" && printf 'PING\r\n' >&3 && head -c 5 <&3 | grep -q PONG) 2>/dev/null; }

if ! pg_up; then
  echo "PostgreSQL is not answering on $PGHOST:$PGPORT; trying to start it."
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    for version in $(ls /etc/postgresql); do
      pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>&1 || true
    done
  fi
  for _ in $(seq 1 20); do pg_up && break; sleep 0.5; done
fi
if ! pg_up; then
  echo "ERROR: PostgreSQL is required for the test suite and is not reachable on $PGHOST:$PGPORT." >&2
  exit 1
fi

if ! redis_up; then
  echo "Redis is not answering on 127.0.0.1:$REDIS_PORT; trying to start it."
  if command -v redis-server >/dev/null 2>&1; then
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log 2>&1 || true
  fi
  for _ in $(seq 1 20); do redis_up && break; sleep 0.5; done
fi
if ! redis_up; then
  echo "ERROR: Redis is required for the test suite and is not reachable on 127.0.0.1:$REDIS_PORT." >&2
  exit 1
fi
amqp_up() { (exec 3<>/dev/tcp/127.0.0.1/"$AMQP_PORT") 2>/dev/null; }
if ! amqp_up; then
  echo "RabbitMQ is not answering on 127.0.0.1:$AMQP_PORT; trying to start it."
  if command -v rabbitmq-server >/dev/null 2>&1; then
    rabbitmq-server -detached 2>&1 || true
  fi
  for _ in $(seq 1 60); do amqp_up && break; sleep 1; done
fi
if ! amqp_up; then
  echo "ERROR: RabbitMQ is required for the test suite and is not reachable on 127.0.0.1:$AMQP_PORT." >&2
  exit 1
fi
echo "PostgreSQL, Redis and RabbitMQ are up."
