class SqlMessages:
    def __init__(self, executor): pass
