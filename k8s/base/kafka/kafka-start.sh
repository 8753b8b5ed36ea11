#!/bin/sh
# Starts one KRaft node of the kafka StatefulSet: node.id from the pod's ordinal, its stable name
# advertised, storage formatted once (--ignore-formatted on later starts).
set -eu
id="${HOSTNAME##*-}"
cat >/tmp/server.properties <<PROPERTIES
process.roles=broker,controller
node.id=${id}
controller.quorum.voters=${KAFKA_CONTROLLER_QUORUM_VOTERS}
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://:9092,CONTROLLER://:9093
advertised.listeners=PLAINTEXT://${HOSTNAME}.kafka.${POD_NAMESPACE}.svc:9092
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=/var/lib/kafka/data/logs
num.partitions=6
default.replication.factor=${KAFKA_REPLICATION_FACTOR}
min.insync.replicas=${KAFKA_MIN_INSYNC_REPLICAS}
offsets.topic.replication.factor=${KAFKA_REPLICATION_FACTOR}
transaction.state.log.replication.factor=${KAFKA_REPLICATION_FACTOR}
transaction.state.log.min.isr=${KAFKA_MIN_INSYNC_REPLICAS}
unclean.leader.election.enable=false
group.initial.rebalance.delay.ms=3000
PROPERTIES
/opt/kafka/bin/kafka-storage.sh format --ignore-formatted -t "${KAFKA_CLUSTER_ID}" -c /tmp/server.properties
exec /opt/kafka/bin/kafka-server-start.sh /tmp/server.properties
