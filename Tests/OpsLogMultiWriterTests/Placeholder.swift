import Testing
@testable import OpsLogMultiWriter

