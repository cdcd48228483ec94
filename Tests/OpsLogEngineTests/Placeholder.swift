import Testing
@testable import OpsLogEngine

