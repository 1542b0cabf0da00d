/// The configuration as text, before it is checked: each setting's environment variable,
/// with the command line's flags over it (a flag wins). ``ServerConfiguration/init(values:)``
/// turns it into the typed configuration, so a value is checked the same way, once,
/// whichever way it came.
///
/// Hand-written rather than swift-configuration's providers (compiled anyway, for
/// Hummingbird's `ConfigurationSupport` trait, so build time is not the reason): merging
/// two sources is a dictionary here, while the checks, and errors naming the flag or
/// variable the operator actually used, would be ours to write either way; and its
/// command-line provider would be a second parser beside ArgumentParser's `--help`.
public struct ConfigurationValues: Sendable {
    /// One setting's text, and where it came from.
    struct Value: Sendable {
        /// One string from a variable (a list is comma-separated); each occurrence of a
        /// repeatable flag.
        var texts: [String]
        var isFlag: Bool
    }

    private var values: [ConfigurationSetting: Value] = [:]

    /// The settings' variables in `environment`; other variables are ignored.
    public init(environment: [String: String] = [:]) {
        for setting in ConfigurationSetting.allCases {
            if let text = environment[setting.variable] { values[setting] = Value(texts: [text], isFlag: false) }
        }
    }

    /// A flag's value over the variable's; `nil` (the flag was not given) keeps the variable's.
    public mutating func override(_ setting: ConfigurationSetting, with flag: String?) {
        if let flag { values[setting] = Value(texts: [flag], isFlag: true) }
    }

    /// A repeatable flag's values over the variable's list; none keeps the variable's.
    public mutating func override(_ setting: ConfigurationSetting, with flags: [String]) {
        if !flags.isEmpty { values[setting] = Value(texts: flags, isFlag: true) }
    }

    /// A boolean flag: given, it sets the setting (as if its variable were `1`).
    public mutating func override(_ setting: ConfigurationSetting, with flag: Bool) {
        if flag { values[setting] = Value(texts: ["1"], isFlag: true) }
    }

    subscript(setting: ConfigurationSetting) -> Value? { values[setting] }

    /// How an error names the setting: the flag when the value came from one, else the
    /// variable.
    func name(of setting: ConfigurationSetting) -> String {
        if values[setting]?.isFlag == true, let flag = setting.flag { return "--\(flag)" }
        return setting.variable
    }
}
