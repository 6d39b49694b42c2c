# Pascal-Context-33, from tools/dataset_converters/pascal_context.py; eval
# on val.
_base_ = './converted_256.py'
dataset_type = 'PascalContext33Dataset'
data_root = 'data/pascal_context_33'
train_dataloader = dict(
    dataset=dict(dataset=dict(type=dataset_type, data_root=data_root)))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
test_dataloader = val_dataloader
