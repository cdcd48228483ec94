import Testing
@testable import OpsLogTypes

