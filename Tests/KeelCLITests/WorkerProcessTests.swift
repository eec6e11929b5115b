import Testing

/// The tests that run `keel worker` processes on PostgreSQL, one after another: each one measures
/// the workers' pace or endurance, so they do not compete for the machine with each other.
@Suite(.serialized) struct WorkerProcessTests {}
