/// The data types every OpsLog layer shares: JSON values, operations, the manifest, snapshot
/// and archive models, and ``OpsLogError``. This module has no dependencies beyond the
/// standard library.
public enum OpsLogTypesModule {}
