# Pascal-Context-33, from tools/dataset_converters/pascal_context.py; eval
# on val.
_base_ = './converted_256.py'
pascal_context_33 = dict(
    type='PascalContext33Dataset', data_root='data/pascal_context_33')
train_dataloader = dict(dataset=dict(dataset=pascal_context_33))
val_dataloader = dict(dataset=pascal_context_33)
test_dataloader = val_dataloader
