import Dispatch
import Foundation
import NanoBananaClient
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Ctrl-C while `run` or `wait` follows a job. On a terminal it asks whether to cancel the
/// job: yes cancels it (the wait then ends with the job FAILED as cancelled), no goes on
/// waiting. Off a terminal, or at a second Ctrl-C while it asks, it leaves the job running
/// and exits 130 with the command that resumes the wait.
final class InterruptPrompt: Sendable {
    private let job: AsyncJob
    private let asking = Mutex(false)
    /// Set once here and only cancelled after: DispatchSource is thread-safe, just not
    /// marked Sendable.
    nonisolated(unsafe) private let source: any DispatchSourceSignal

    init(job: AsyncJob) {
        self.job = job
        signal(SIGINT, SIG_IGN)
        source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        source.setEventHandler { [weak self] in self?.interrupted() }
        source.resume()
    }

    /// Gives Ctrl-C back its default meaning.
    func stop() {
        source.cancel()
        signal(SIGINT, SIG_DFL)
    }

    private func interrupted() {
        let alreadyAsking = asking.withLock { asking in
            defer { asking = true }
            return asking
        }
        guard !alreadyAsking, isatty(STDIN_FILENO) == 1, isatty(STDERR_FILENO) == 1 else { leave() }
        FileHandle.standardError.write(Data("\nCancel request \(job.requestID)? [y/N] ".utf8))
        let answer = readLine()?.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
        guard answer == "y" || answer == "yes" else {
            FileHandle.standardError.write(Data("Still waiting (Ctrl-C again to ask again).\n".utf8))
            asking.withLock { $0 = false }
            return
        }
        let job = self.job
        Task {
            do {
                try await job.cancel()
                FileHandle.standardError.write(Data("Cancelled.\n".utf8))
            } catch {
                FileHandle.standardError.write(Data("Could not cancel: \(error)\n".utf8))
                self.asking.withLock { $0 = false }
            }
        }
    }

    private func leave() -> Never {
        FileHandle.standardError.write(
            Data("\nInterrupted; the job goes on. Resume with: nano-banana wait \(job.requestID)\n".utf8))
        exit(130)
    }
}
