import Testing
@testable import OpsLogStorage

