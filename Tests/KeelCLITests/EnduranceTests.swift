import KeelTestSupport
import Testing

/// The tests that run real `keel` processes under load for a long while — killed demos, the
/// chaos batch, workers on PostgreSQL — one after another: each measures pace or endurance, so
/// they do not compete with each other for this machine's two cores.
@Suite(.serialized, .timeLimit(.minutes(20)), .heavy) struct EnduranceTests {}
