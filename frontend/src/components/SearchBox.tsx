// Keyword search: Enter or the button searches, clearing the box shows everything again.
import { SearchOutlined } from '@ant-design/icons';
import { Button, Input, Space } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';

export interface SearchBoxProps {
  placeholder: string;
  onSearch: (keyword: string) => void;
  testId: string;
  width?: number;
}

export default function SearchBox({ placeholder, onSearch, testId, width = 320 }: SearchBoxProps) {
  const { t } = useTranslation();
  const [value, setValue] = useState('');
  return (
    <Space.Compact style={{ width: '100%', maxWidth: width }}>
      <Input
        allowClear
        value={value}
        placeholder={placeholder}
        onChange={(e) => {
          setValue(e.target.value);
          if (!e.target.value) onSearch('');
        }}
        onPressEnter={() => onSearch(value.trim())}
        data-testid={testId}
      />
      <Button type="primary" icon={<SearchOutlined />} aria-label={t('common.search')} onClick={() => onSearch(value.trim())} data-testid={`${testId}-button`} />
    </Space.Compact>
  );
}
