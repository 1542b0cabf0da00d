import NIOCore
import Testing

@testable import Server

/// The connection timeouts as a value: events in, the next deadline out, no clock.
@Suite("Connection deadlines")
struct ConnectionDeadlinesTests {
    let timeouts = ConnectionDeadlines.Timeouts(
        idle: .seconds(60), header: .seconds(10), bodyRead: .seconds(30), write: .seconds(30))

    /// `seconds` after an arbitrary start.
    func at(_ seconds: Int) -> NIODeadline { .uptimeNanoseconds(UInt64(1000 + seconds) * 1_000_000_000) }

    @Test("a connection that sends nothing is closed at the idle timeout")
    func idle() {
        let deadlines = ConnectionDeadlines(timeouts: timeouts, now: at(0))
        #expect(deadlines.next?.deadline == at(60))
        #expect(deadlines.expired(now: at(59)) == nil)
        #expect(deadlines.expired(now: at(60)) == .idle)
    }

    @Test("headers that trickle in are closed at the header timeout from their first byte, however often bytes arrive")
    func slowHeaders() {
        var deadlines = ConnectionDeadlines(timeouts: timeouts, now: at(0))
        for second in 5...14 { deadlines.bytesArrived(now: at(second)) }
        #expect(deadlines.expired(now: at(14)) == nil)
        #expect(deadlines.expired(now: at(15)) == .header)
    }

    @Test("a body is closed after the read timeout without a byte; each byte that arrives moves the deadline")
    func slowBody() {
        var deadlines = ConnectionDeadlines(timeouts: timeouts, now: at(0))
        deadlines.headReceived(now: at(1))
        deadlines.bodyReceived(now: at(20))
        #expect(deadlines.next?.deadline == at(50))
        #expect(deadlines.expired(now: at(50)) == .bodyRead)
        // A chunk header that completes no part is progress too.
        deadlines.bytesArrived(now: at(45))
        #expect(deadlines.next?.deadline == at(75))
        #expect(deadlines.next?.expiry == .bodyRead)
    }

    @Test("no read deadline while a response is owed; the idle timeout starts when it ends")
    func responseOwed() {
        var deadlines = ConnectionDeadlines(timeouts: timeouts, now: at(0))
        deadlines.headReceived(now: at(0))
        deadlines.endReceived(now: at(1))
        // A v1 request waits minutes for its job: the client waits on the server.
        #expect(deadlines.next == nil)
        #expect(deadlines.expired(now: at(1000)) == nil)
        deadlines.responseEnded(now: at(300))
        #expect(deadlines.next?.deadline == at(360))
        #expect(deadlines.next?.expiry == .idle)
    }

    @Test("a response the client does not take is closed at the write timeout; writability clears it")
    func writeTimeout() {
        var deadlines = ConnectionDeadlines(timeouts: timeouts, now: at(0))
        deadlines.headReceived(now: at(0))
        deadlines.endReceived(now: at(0))
        deadlines.writabilityChanged(isWritable: false, now: at(10))
        // Staying unwritable does not move the deadline.
        deadlines.writabilityChanged(isWritable: false, now: at(20))
        #expect(deadlines.next?.deadline == at(40))
        #expect(deadlines.expired(now: at(40)) == .write)
        deadlines.writabilityChanged(isWritable: true, now: at(35))
        #expect(deadlines.next == nil)
    }

    @Test("a response ended before its body was read keeps the body deadline, then the idle one")
    func earlyResponse() {
        var deadlines = ConnectionDeadlines(timeouts: timeouts, now: at(0))
        deadlines.headReceived(now: at(0))
        deadlines.responseEnded(now: at(1))
        #expect(deadlines.next?.expiry == .bodyRead)
        deadlines.endReceived(now: at(2))
        #expect(deadlines.next?.deadline == at(62))
        #expect(deadlines.next?.expiry == .idle)
    }

    @Test("a second request on a kept-alive connection gets its own header timeout")
    func keepAlive() {
        var deadlines = ConnectionDeadlines(timeouts: timeouts, now: at(0))
        deadlines.headReceived(now: at(0))
        deadlines.endReceived(now: at(0))
        deadlines.responseEnded(now: at(1))
        deadlines.bytesArrived(now: at(50))
        #expect(deadlines.next?.deadline == at(60))
        #expect(deadlines.next?.expiry == .header)
    }
}
