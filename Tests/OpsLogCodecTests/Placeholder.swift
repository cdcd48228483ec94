import Testing
@testable import OpsLogCodec

