/// The largest values the stores accept. Bounded balances and prices keep every sum the
/// stores compute (a balance plus a refund, a ledger's total) far inside a 64-bit integer,
/// so neither database ever overflows into a value it cannot hand back.
public enum StoreMaxima {
    /// A key's balance, and a single grant or top-up: 10^15 credits.
    public static let credits = 1_000_000_000_000_000
    /// The price of one request: 10^9 credits.
    public static let price = 1_000_000_000
    /// A key's own requests per minute, burst and requests in flight: 1,000,000, as the
    /// server's `--rpm`, `--burst` and `--max-in-flight` flags.
    public static let limit = 1_000_000
}
