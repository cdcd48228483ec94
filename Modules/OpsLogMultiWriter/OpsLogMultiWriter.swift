// Module placeholder: see the issues for what lands here.
enum OpsLogMultiWriterModule {}
