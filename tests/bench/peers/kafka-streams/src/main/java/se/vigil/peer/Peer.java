/*
 * Peer.java - the benchmark's peer (tests/bench/run): a Kafka Streams
 * program doing what the issue asks of it on Vigil's input topics -
 * READMISSION_30D and SIP_OVERDUE alerts and place-of-death counts - with
 * per-patient state in a persistent store (changelogged), exactly-once
 * processing, SIP deadlines on stream-time punctuation. It is a reference
 * for throughput and memory, written the way a Kafka Streams team would;
 * it does not claim Vigil's full rule book (no cancellations, watermark or
 * retention).
 *
 *   java -cp 'target/classes:target/lib/*' se.vigil.peer.Peer BROKERS APP_ID
 *        SCHEMA_DIR EXPECTED ADM DIS DEA SIP REG OUT
 *
 * REG (register entries) is consumed like the others and not used: the
 * peer reads the same records Vigil reads.
 *
 * Decodes the records' Avro single-object encoding (C3 01, fingerprint,
 * body) with Avro's own BinaryMessageDecoder, knowing every schema version
 * Vigil ships. Prints "<events> <seconds> <events/s>" once EXPECTED events
 * are processed (seconds from the first record), then exits.
 */
package se.vigil.peer;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.message.BinaryMessageDecoder;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.Stores;

public final class Peer {
    static final long DAY = 86_400_000L;
    static final long SIP_DEADLINE = 72 * 3_600_000L;
    static final ZoneId TZ = ZoneId.of("Europe/Stockholm");

    static final AtomicLong processed = new AtomicLong();
    static volatile long firstAt;
    static volatile long doneAt;
    static long expected;
    static final CountDownLatch done = new CountDownLatch(1);

    /* One stay of a patient. */
    static final class Stay {
        String id, setting, disposition;
        long admitted = -1, discharged = -1;
        boolean planned, needsCoordination;
    }

    /* A patient's state: stays, SIP times, alerts raised. */
    static final class Patient {
        List<Stay> stays = new ArrayList<>();
        List<Long> sips = new ArrayList<>();
        List<String> alerts = new ArrayList<>();

        Stay stay(String id) {
            for (Stay s : stays)
                if (s.id.equals(id))
                    return s;
            Stay s = new Stay();
            s.id = id;
            stays.add(s);
            return s;
        }

        byte[] encode() throws IOException {
            ByteArrayOutputStream b = new ByteArrayOutputStream(256);
            DataOutputStream o = new DataOutputStream(b);
            o.writeInt(stays.size());
            for (Stay s : stays) {
                o.writeUTF(s.id);
                o.writeUTF(s.setting == null ? "" : s.setting);
                o.writeUTF(s.disposition == null ? "" : s.disposition);
                o.writeLong(s.admitted);
                o.writeLong(s.discharged);
                o.writeBoolean(s.planned);
                o.writeBoolean(s.needsCoordination);
            }
            o.writeInt(sips.size());
            for (long t : sips)
                o.writeLong(t);
            o.writeInt(alerts.size());
            for (String a : alerts)
                o.writeUTF(a);
            return b.toByteArray();
        }

        static Patient decode(byte[] v) throws IOException {
            Patient p = new Patient();
            if (v == null)
                return p;
            DataInputStream in = new DataInputStream(new ByteArrayInputStream(v));
            for (int n = in.readInt(); n > 0; n--) {
                Stay s = new Stay();
                s.id = in.readUTF();
                s.setting = in.readUTF();
                s.disposition = in.readUTF();
                s.admitted = in.readLong();
                s.discharged = in.readLong();
                s.planned = in.readBoolean();
                s.needsCoordination = in.readBoolean();
                p.stays.add(s);
            }
            for (int n = in.readInt(); n > 0; n--)
                p.sips.add(in.readLong());
            for (int n = in.readInt(); n > 0; n--)
                p.alerts.add(in.readUTF());
            return p;
        }
    }

    static BinaryMessageDecoder<GenericRecord> decoder(File dir, String name)
            throws IOException {
        Schema cur = new Schema.Parser().parse(new File(dir, name + ".avsc"));
        BinaryMessageDecoder<GenericRecord> d =
                new BinaryMessageDecoder<>(GenericData.get(), cur);
        File old = new File(new File(dir, "history"), name + ".v1.avsc");
        if (old.exists())
            d.addSchema(new Schema.Parser().parse(old));
        return d;
    }

    static final class Rules implements Processor<byte[], byte[], String, String> {
        final File schemaDir;
        final String adm, dis, dea, sip;
        BinaryMessageDecoder<GenericRecord> dAdm, dDis, dDea, dSip;
        ProcessorContext<String, String> ctx;
        KeyValueStore<String, byte[]> patients;
        KeyValueStore<String, Long> counts;
        KeyValueStore<String, String> deadlines; /* "due|patient|stay" */

        Rules(File schemaDir, String adm, String dis, String dea, String sip) {
            this.schemaDir = schemaDir;
            this.adm = adm;
            this.dis = dis;
            this.dea = dea;
            this.sip = sip;
        }

        @Override
        public void init(ProcessorContext<String, String> context) {
            ctx = context;
            patients = context.getStateStore("patients");
            counts = context.getStateStore("counts");
            deadlines = context.getStateStore("deadlines");
            try {
                dAdm = decoder(schemaDir, "Admission");
                dDis = decoder(schemaDir, "Discharge");
                dDea = decoder(schemaDir, "Death");
                dSip = decoder(schemaDir, "SipCreated");
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
            context.schedule(Duration.ofMinutes(10), PunctuationType.STREAM_TIME,
                             this::fireDeadlines);
        }

        static String str(GenericRecord r, String f) {
            Object v = r.get(f);
            return v == null ? null : v.toString();
        }

        static long time(GenericRecord r, String f) {
            Object v = r.get(f);
            if (v instanceof Instant)
                return ((Instant) v).toEpochMilli();
            return ((Number) v).longValue();
        }

        static String month(long ms) {
            ZonedDateTime z = Instant.ofEpochMilli(ms).atZone(TZ);
            return String.format("%04d-%02d", z.getYear(), z.getMonthValue());
        }

        @Override
        public void process(Record<byte[], byte[]> rec) {
            String topic = ctx.recordMetadata().map(m -> m.topic()).orElse("");
            try {
                if (topic.equals(adm))
                    admission(dAdm.decode(rec.value()));
                else if (topic.equals(dis))
                    discharge(dDis.decode(rec.value()));
                else if (topic.equals(dea))
                    death(dDea.decode(rec.value()));
                else if (topic.equals(sip))
                    sipCreated(dSip.decode(rec.value()));
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
            long n = processed.incrementAndGet();
            if (n == 1)
                firstAt = System.nanoTime();
            if (n == expected) {
                doneAt = System.nanoTime();
                done.countDown();
            }
        }

        void emit(String key, String value) {
            ctx.forward(new Record<>(key, value, System.currentTimeMillis()));
        }

        void admission(GenericRecord r) throws IOException {
            String pid = str(r, "patient_id");
            Patient p = Patient.decode(patients.get(pid));
            Stay s = p.stay(str(r, "stay_id"));
            s.admitted = time(r, "occurred_at");
            s.setting = str(r, "care_setting");
            s.planned = Boolean.TRUE.equals(r.get("planned"));
            /* READMISSION_30D: an unplanned hospital admission within 30
             * days of an earlier hospital discharge alive */
            if ("HOSPITAL_INPATIENT".equals(s.setting) && !s.planned) {
                for (Stay i : p.stays) {
                    if (i == s || !"HOSPITAL_INPATIENT".equals(i.setting) ||
                        i.discharged < 0 || "DIED".equals(i.disposition))
                        continue;
                    long d = s.admitted - i.discharged;
                    if (d >= 0 && d <= 30 * DAY) {
                        String id = "RD|" + pid + "|" + s.id;
                        if (!p.alerts.contains(id)) {
                            p.alerts.add(id);
                            emit(id, "ACTIVE READMISSION_30D " + str(r, "kommun"));
                        }
                        break;
                    }
                }
            }
            patients.put(pid, p.encode());
        }

        void discharge(GenericRecord r) throws IOException {
            String pid = str(r, "patient_id");
            Patient p = Patient.decode(patients.get(pid));
            Stay s = p.stay(str(r, "stay_id"));
            s.discharged = time(r, "occurred_at");
            s.disposition = str(r, "disposition");
            if (s.setting == null)
                s.setting = str(r, "care_setting");
            s.needsCoordination = Boolean.TRUE.equals(r.get("needs_coordination"));
            if (s.needsCoordination)
                deadlines.put(String.format("%016d|%s|%s",
                                            s.discharged + SIP_DEADLINE, pid, s.id),
                              str(r, "kommun"));
            patients.put(pid, p.encode());
        }

        void sipCreated(GenericRecord r) throws IOException {
            String pid = str(r, "patient_id");
            Patient p = Patient.decode(patients.get(pid));
            long t = time(r, "occurred_at");
            p.sips.add(t);
            /* a late SIP retracts an overdue alert it meets */
            for (Stay s : p.stays) {
                String id = "SO|" + pid + "|" + s.id;
                if (s.needsCoordination && t >= s.discharged &&
                    t <= s.discharged + SIP_DEADLINE && p.alerts.remove(id))
                    emit(id, "RETRACTED SIP_OVERDUE");
            }
            patients.put(pid, p.encode());
        }

        void death(GenericRecord r) {
            String key = str(r, "place_of_death") + "|" + str(r, "kommun") + "|" +
                         month(time(r, "occurred_at"));
            Long c = counts.get(key);
            long v = c == null ? 1 : c + 1;
            counts.put(key, v);
            emit("death_place|" + key, Long.toString(v));
        }

        /* SIP_OVERDUE: deadlines the stream time has passed, with no SIP
         * from discharge to deadline. */
        void fireDeadlines(long streamTime) {
            List<KeyValue<String, String>> due = new ArrayList<>();
            String upto = String.format("%016d", streamTime);
            try (KeyValueIterator<String, String> it = deadlines.range("", upto + "~")) {
                while (it.hasNext()) {
                    KeyValue<String, String> kv = it.next();
                    if (kv.key.compareTo(upto) > 0)
                        break;
                    due.add(kv);
                }
            }
            for (KeyValue<String, String> kv : due) {
                String[] f = kv.key.split("\\|");
                long deadline = Long.parseLong(f[0]);
                String pid = f[1], stay = f[2];
                deadlines.delete(kv.key);
                try {
                    Patient p = Patient.decode(patients.get(pid));
                    boolean met = false;
                    for (long t : p.sips)
                        met |= t >= deadline - SIP_DEADLINE && t <= deadline;
                    String id = "SO|" + pid + "|" + stay;
                    if (!met && !p.alerts.contains(id)) {
                        p.alerts.add(id);
                        emit(id, "ACTIVE SIP_OVERDUE " + kv.value);
                        patients.put(pid, p.encode());
                    }
                } catch (IOException e) {
                    throw new RuntimeException(e);
                }
            }
        }
    }

    public static void main(String[] a) throws Exception {
        if (a.length != 10) {
            System.err.println("usage: Peer BROKERS APP_ID SCHEMA_DIR EXPECTED ADM DIS DEA SIP REG OUT");
            System.exit(64);
        }
        expected = Long.parseLong(a[3]);
        File schemas = new File(a[2]);
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, a[1]);
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, a[0]);
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        p.put(StreamsConfig.STATE_DIR_CONFIG,
              Files.createTempDirectory("vigil-peer").toString());
        p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG,
              Runtime.getRuntime().availableProcessors());
        p.put(StreamsConfig.consumerPrefix("auto.offset.reset"), "earliest");
        p.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, 1);

        Topology t = new Topology();
        t.addSource("in", Serdes.ByteArray().deserializer(),
                    Serdes.ByteArray().deserializer(), a[4], a[5], a[6], a[7], a[8]);
        t.addProcessor("rules", () -> new Rules(schemas, a[4], a[5], a[6], a[7]), "in");
        t.addStateStore(Stores.keyValueStoreBuilder(
                Stores.persistentKeyValueStore("patients"), Serdes.String(),
                Serdes.ByteArray()), "rules");
        t.addStateStore(Stores.keyValueStoreBuilder(
                Stores.persistentKeyValueStore("counts"), Serdes.String(),
                Serdes.Long()), "rules");
        t.addStateStore(Stores.keyValueStoreBuilder(
                Stores.persistentKeyValueStore("deadlines"), Serdes.String(),
                Serdes.String()), "rules");
        t.addSink("out", a[9], Serdes.String().serializer(),
                  Serdes.String().serializer(), "rules");

        KafkaStreams ks = new KafkaStreams(t, p);
        ks.setUncaughtExceptionHandler(e -> {
            e.printStackTrace();
            System.exit(1);
            return null;
        });
        ks.start();
        /* progress on stderr every 10 s; give up after 30 minutes */
        for (int waited = 0; !done.await(10, java.util.concurrent.TimeUnit.SECONDS);
             waited += 10) {
            System.err.printf("peer: %d of %d events, state %s%n", processed.get(),
                              expected, ks.state());
            if (waited >= 1800) {
                System.err.println("timed out after " + processed.get() + " events");
                System.exit(1);
            }
        }
        double secs = (doneAt - firstAt) / 1e9;
        System.out.printf("%d %.3f %.0f%n", expected, secs, expected / secs);
        System.out.flush();
        ks.close(Duration.ofSeconds(10));
        System.exit(0);
    }
}
