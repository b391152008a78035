import Foundation

/// Whether this binary was built with the `Kafka` package trait.
public enum KafkaSupport {
    #if Kafka
        public static let isAvailable = true
    #else
        public static let isAvailable = false
    #endif

    public static let missing =
        "this binary was built without Kafka support; build it with `swift build --traits Kafka`"
}
