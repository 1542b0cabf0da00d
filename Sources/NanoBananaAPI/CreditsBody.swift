/// `GET /v1/get-user-credits` → 200: the key's own balance, in the shape of Segmind's
/// account API. An unmetered key has no balance: `"credits": null` (written out, not left
/// out) with `"metered": false`.
public struct CreditsBody: Sendable, Equatable, Codable {
    /// The balance; `nil` for a key that is not charged.
    public var credits: Int?
    /// Segmind's promotional credits; this server grants none (always 0).
    public var freeCredits: Int
    public var metered: Bool

    public init(credits: Int?, freeCredits: Int = 0) {
        self.credits = credits
        self.freeCredits = freeCredits
        self.metered = credits != nil
    }

    enum CodingKeys: String, CodingKey {
        case credits
        case freeCredits = "free-credits"
        case metered
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        if let credits {
            try container.encode(credits, forKey: .credits)
        } else {
            try container.encodeNil(forKey: .credits)
        }
        try container.encode(freeCredits, forKey: .freeCredits)
        try container.encode(metered, forKey: .metered)
    }
}
