import Foundation

/// One movement of a key's credits. For a metered key the amounts always add up to its
/// balance: a grant at creation, top-ups, a reservation per submitted request, then for
/// each request either a settlement (0: the reservation stands) or a refund. Lines older
/// than the retention are folded into one `summary` line per key (``LedgerFold``), which
/// carries their sum forward.
public struct CreditLedgerEntry: Sendable, Equatable {
    public enum Kind: String, Sendable, Equatable {
        case grant, topUp = "top_up", reserve, settle, refund, summary
    }

    /// The line's place in the ledger: later lines have larger numbers. A page of the
    /// ledger ends before one (``APIKeyAdministration/show(_:ledgerLimit:before:)``).
    public var sequence: Int64
    public var kind: Kind
    public var amount: Int
    public var balanceAfter: Int
    public var requestID: String?
    public var createdAt: Date
}

/// A request the key cannot pay for: HTTP 406.
public struct InsufficientCredits: Error, Sendable, Equatable {
    public let price: Int
    public let balance: Int
}

/// A change of a key's balance with its ledger line, as ``CreditPolicy`` decides it. A store
/// runs it as one conditional update of the key's balance and, if that updated the key,
/// the ledger line with the balance after it, in the caller's transaction.
struct CreditMovement: Sendable, Equatable {
    /// When the store may make the movement; otherwise it leaves everything as it is.
    enum Condition: Sendable, Equatable {
        /// The key is metered and its balance covers the price (a reservation).
        case balanceCovers(Int)
        /// The key is metered and holds a reservation for this request (settling or
        /// refunding it: a job submitted while its key was unmetered reserved nothing,
        /// even if the key has been topped up since).
        case reserved
        /// The balance after the movement stays at most this maximum: a grant or a top-up,
        /// which makes an unmetered key metered (``StoreMaxima/credits``).
        case balanceStaysWithin(Int)
    }

    var kind: CreditLedgerEntry.Kind
    /// Added to the balance (negative for a reservation).
    var amount: Int
    var requestID: String?
    var condition: Condition
}

/// The credit rules, decided without I/O: what a submission reserves, what a finished job
/// settles or refunds, what a grant or top-up adds. The stores run the movements inside
/// the transactions that enqueue and finish jobs, so money and state commit together.
enum CreditPolicy {
    /// What submitting `job` reserves: its cost, when its key pays and the cost is not 0.
    static func reservation(for job: NewJob) -> CreditMovement? {
        guard job.metered, job.cost > 0 else { return nil }
        return CreditMovement(kind: .reserve, amount: -job.cost, requestID: job.id, condition: .balanceCovers(job.cost))
    }

    /// Why a reservation was not made: the key's balance is short (a metered key), or
    /// nothing (an unmetered key is never refused).
    static func shortfall(of reservation: CreditMovement, balance: Int?) -> InsufficientCredits? {
        guard let balance, case .balanceCovers(let price) = reservation.condition else { return nil }
        return InsufficientCredits(price: price, balance: balance)
    }

    /// What a job that has just ended does with its reservation: COMPLETED settles it (0),
    /// FAILED (a cancellation included) refunds it in full.
    static func closing(_ job: JobRecord) -> CreditMovement? {
        guard job.cost > 0, job.status.isTerminal else { return nil }
        let completed = job.status == .completed
        return CreditMovement(
            kind: completed ? .settle : .refund, amount: completed ? 0 : job.cost, requestID: job.id,
            condition: .reserved)
    }

    /// A starting balance (`.grant`, 0 allowed) or a top-up (`.topUp`, positive), at most
    /// ``StoreMaxima/credits``, made only while the balance stays within that maximum.
    static func addition(_ amount: Int, kind: CreditLedgerEntry.Kind) throws(APIKeyError) -> CreditMovement {
        guard amount > 0 || (kind == .grant && amount == 0), amount <= StoreMaxima.credits else {
            throw .invalidAmount(amount)
        }
        return CreditMovement(
            kind: kind, amount: amount, requestID: nil, condition: .balanceStaysWithin(StoreMaxima.credits))
    }

    /// Why a movement whose condition did not hold was not made, given the key's balance:
    /// a reservation's shortfall, or an addition's excess; `nil` when that is no refusal (an
    /// unmetered key reserves nothing; a closing without a reservation has nothing to do).
    static func refusal(of movement: CreditMovement, balance: Int?) -> (any Error)? {
        if let shortfall = shortfall(of: movement, balance: balance) { return shortfall }
        return excess(of: movement, balance: balance)
    }

    /// Why an addition was not made: the key's balance would pass the maximum.
    static func excess(of addition: CreditMovement, balance: Int?) -> APIKeyError? {
        guard case .balanceStaysWithin(let maximum) = addition.condition else { return nil }
        return .balanceTooLarge(balance: balance ?? 0, amount: addition.amount, maximum: maximum)
    }
}
