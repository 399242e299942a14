#!/usr/bin/env bash
# Brings up PostgreSQL and RabbitMQ on this machine when they are not already serving:
# starts them if installed, installs them from Debian's packages if not.
set -euo pipefail

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for_port() {
    local port=$1 name=$2
    for _ in $(seq 1 90); do
        port_open "$port" && return 0
        sleep 1
    done
    echo "services: $name did not start listening on port $port" >&2
    return 1
}

apt_updated=no
install_packages() {
    if [ "$(id -u)" != 0 ]; then
        echo "services: installing $* needs root" >&2
        return 1
    fi
    if [ "$apt_updated" = no ]; then
        apt-get update -qq
        apt_updated=yes
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

if ! port_open 5432; then
    if ! command -v pg_ctlcluster >/dev/null; then
        echo "services: installing PostgreSQL"
        install_packages postgresql
        fresh_install=yes
    fi
    version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
    if [ -z "$version" ]; then
        version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
        pg_createcluster "$version" main >/dev/null
        fresh_install=yes
    fi
    if [ "${fresh_install:-no}" = yes ]; then
        # A development database on loopback only: trust local connections, as the defaults assume.
        hba="/etc/postgresql/$version/main/pg_hba.conf"
        sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/; s/^(local\s+all\s+all\s+)\S+/\1trust/' "$hba"
    fi
    echo "services: starting PostgreSQL $version"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start
    wait_for_port 5432 PostgreSQL
fi

if ! port_open 5672; then
    if ! command -v rabbitmq-server >/dev/null; then
        echo "services: installing RabbitMQ"
        install_packages rabbitmq-server
    fi
    echo "services: starting RabbitMQ"
    rabbitmq-server -detached
    wait_for_port 5672 RabbitMQ
fi
