// The librdkafka C API, plus two helpers for calls Swift cannot make directly: the variadic
// rd_kafka_producev, and the admin CreateTopics round trip. Only MetropulseKafka imports this,
// and only when the package trait `Kafka` is enabled.
#ifndef METROPULSE_CRDKAFKA_SHIM_H
#define METROPULSE_CRDKAFKA_SHIM_H

#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/// Produces one message to `topic` (any partition when `partition` is -1). `headers` (may be
/// NULL) is owned by librdkafka on success and destroyed here on failure. Payloads are copied.
static inline rd_kafka_resp_err_t mp_produce(rd_kafka_t *rk, const char *topic, int32_t partition,
                                             const void *key, size_t key_len, const void *value,
                                             size_t value_len, rd_kafka_headers_t *headers,
                                             void *opaque) {
    rd_kafka_resp_err_t err;
    if (headers) {
        err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                                RD_KAFKA_V_KEY(key, key_len), RD_KAFKA_V_VALUE((void *)value, value_len),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(headers),
                                RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
        if (err) rd_kafka_headers_destroy(headers);
    } else {
        err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                                RD_KAFKA_V_KEY(key, key_len), RD_KAFKA_V_VALUE((void *)value, value_len),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(opaque),
                                RD_KAFKA_V_END);
    }
    return err;
}

/// Creates the topics that do not exist yet, each with the topic settings `configs` (`config_count`
/// name/value pairs, flattened). Returns 0, or -1 with a message in `errstr`.
static inline int mp_create_topics(rd_kafka_t *rk, const char **names, size_t count, int partitions,
                                   int replication, const char **configs, size_t config_count,
                                   int timeout_ms, char *errstr, size_t errstr_size) {
    rd_kafka_NewTopic_t **topics = (rd_kafka_NewTopic_t **)calloc(count, sizeof(*topics));
    if (!topics) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    int failed = 0;
    size_t made = 0;
    for (; made < count; made++) {
        topics[made] = rd_kafka_NewTopic_new(names[made], partitions, replication, errstr, errstr_size);
        if (!topics[made]) {
            failed = 1;
            break;
        }
        for (size_t c = 0; c < config_count; c++) {
            if (rd_kafka_NewTopic_set_config(topics[made], configs[2 * c], configs[2 * c + 1])) {
                snprintf(errstr, errstr_size, "topic setting %s", configs[2 * c]);
                failed = 1;
            }
        }
        if (failed) {
            made++;
            break;
        }
    }
    if (!failed) {
        rd_kafka_queue_t *queue = rd_kafka_queue_new(rk);
        rd_kafka_AdminOptions_t *options = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
        rd_kafka_AdminOptions_set_operation_timeout(options, timeout_ms, NULL, 0);
        rd_kafka_CreateTopics(rk, topics, count, options, queue);
        rd_kafka_event_t *event = rd_kafka_queue_poll(queue, timeout_ms + 2000);
        if (!event) {
            snprintf(errstr, errstr_size, "no answer to CreateTopics within %d ms", timeout_ms + 2000);
            failed = 1;
        } else if (rd_kafka_event_error(event)) {
            snprintf(errstr, errstr_size, "%s", rd_kafka_event_error_string(event));
            failed = 1;
        } else {
            const rd_kafka_CreateTopics_result_t *result = rd_kafka_event_CreateTopics_result(event);
            size_t n = 0;
            const rd_kafka_topic_result_t **results = rd_kafka_CreateTopics_result_topics(result, &n);
            for (size_t i = 0; i < n && !failed; i++) {
                rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[i]);
                if (err && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
                    const char *message = rd_kafka_topic_result_error_string(results[i]);
                    snprintf(errstr, errstr_size, "topic %s: %s", rd_kafka_topic_result_name(results[i]),
                             message ? message : rd_kafka_err2str(err));
                    failed = 1;
                }
            }
        }
        if (event) rd_kafka_event_destroy(event);
        rd_kafka_AdminOptions_destroy(options);
        rd_kafka_queue_destroy(queue);
    }
    for (size_t i = 0; i < made; i++) rd_kafka_NewTopic_destroy(topics[i]);
    free(topics);
    return failed ? -1 : 0;
}

#endif
