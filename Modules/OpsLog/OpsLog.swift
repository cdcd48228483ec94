// The umbrella: one import for everything.
@_exported import OpsLogCodec
@_exported import OpsLogEngine
@_exported import OpsLogMultiWriter
@_exported import OpsLogStorage
@_exported import OpsLogTypes
