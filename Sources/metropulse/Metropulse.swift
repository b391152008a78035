import ArgumentParser
@main struct Metropulse: AsyncParsableCommand {
    func run() async throws {}
}
