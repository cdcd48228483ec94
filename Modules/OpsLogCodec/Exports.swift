// A tool that depends on the codec alone gets the types it reads and writes with it.
@_exported import OpsLogTypes
